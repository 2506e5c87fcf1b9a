"""Typed consumer handlers: one registry per consumer (or per domain, merged into the consumer's),
dispatching on the event class.

    registry = Handlers()

    @registry.on(InstitutionFiledV1)
    async def on_filed(session: AsyncSession, data: InstitutionFiledV1, event: DecodedEvent) -> None: ...

A handler receives the decoded payload already typed as the class it was registered for (mypy checks
the handler against it) and the whole decoded event (envelope id, time, source) for what the payload
does not carry. The registry is the ``Mapping[str, Handler]`` (event type → handler) that
``shared.consumer.ConsumerRunner`` runs, so the runner's semantics (inbox, batches, dead letters,
types without a handler ignored) are unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import Handler
from shared.events import DecodedEvent, EventData

D = TypeVar("D", bound=EventData)
TypedHandler = Callable[[AsyncSession, D, DecodedEvent], Awaitable[None]]


class Handlers(Mapping[str, Handler]):
    """Event type → handler. Several handlers may take the same type (e.g. a domain's projection and
    another domain's reaction to the same event): they run in the order they were registered, in the
    same transaction."""

    def __init__(self) -> None:
        self._chains: dict[str, list[Handler]] = {}
        self._dispatchers: dict[str, Handler] = {}

    def on(self, *types: type[D]) -> Callable[[TypedHandler[D]], TypedHandler[D]]:
        """Register the decorated function for these event classes (one, or several sharing a base)."""
        if not types:
            raise ValueError("on() needs at least one event class")

        def register(handler: TypedHandler[D]) -> TypedHandler[D]:
            for event_class in types:
                self._add(event_class.event_type, _typed(event_class, handler))
            return handler

        return register

    def include(self, other: Handlers) -> Handlers:
        """Add another registry's handlers after this one's (for a type both handle: this one's first)."""
        for event_type, chain in other._chains.items():
            for handler in chain:
                self._add(event_type, handler)
        return self

    async def dispatch(self, session: AsyncSession, event: DecodedEvent) -> None:
        """Apply one event outside a runner (a rebuild); a type without a handler changes nothing."""
        handler = self._dispatchers.get(event.type)
        if handler is not None:
            await handler(session, event)

    def _add(self, event_type: str, handler: Handler) -> None:
        chain = self._chains.setdefault(event_type, [])
        chain.append(handler)
        self._dispatchers[event_type] = chain[0] if len(chain) == 1 else _chained(chain)

    # --- Mapping[str, Handler], what the runner reads ----------------------------------------

    def __getitem__(self, event_type: str) -> Handler:
        return self._dispatchers[event_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dispatchers)

    def __len__(self) -> int:
        return len(self._dispatchers)


def _typed(event_class: type[D], handler: TypedHandler[D]) -> Handler:
    async def dispatch(session: AsyncSession, event: DecodedEvent) -> None:
        data = event.data
        if not isinstance(data, event_class):  # the catalogue decodes each type into its class
            raise TypeError(f"{event.type} decoded as {type(data).__name__}, not {event_class.__name__}")
        await handler(session, data, event)

    dispatch.__qualname__ = getattr(handler, "__qualname__", dispatch.__qualname__)
    return dispatch


def _chained(chain: list[Handler]) -> Handler:
    async def run_all(session: AsyncSession, event: DecodedEvent) -> None:
        for handler in chain:
            await handler(session, event)

    return run_all


__all__ = ["Handler", "Handlers", "TypedHandler"]
