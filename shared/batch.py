"""Work deferred to the end of a consumer's batch transaction (see ``shared.consumer``).

A consumer applies a fetched batch of records in one transaction. Handlers may defer work that only
needs doing once per batch (a grade recomputed from all of a subject's entries, rows written with one
executemany) with a ``BatchCollector`` (items gathered over the batch, one function run over all of
them at its end) or ``at_batch_end``; outside a consumer's transaction (an API request, a rebuild, a
unit test) the work runs at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

Work = Callable[[], Awaitable[None]]
T = TypeVar("T")
SCOPE_KEY = "childcare.batch_scope"


class BatchScope:
    """Work a handler defers to the end of the transaction it runs in, once per key, plus state the
    handlers of one batch share (e.g. the ledger entries to append together).

    Deferring is safe for work whose result depends only on the facts written so far, not on when it
    runs (a credit grade is recomputed from all of a subject's dated entries): running it once after
    the batch's last event gives the state running it after every event would have ended in."""

    def __init__(self) -> None:
        self._work: dict[Hashable, Work] = {}
        self._state: dict[Hashable, Any] = {}

    def defer(self, key: Hashable, work: Work) -> None:
        self._work.setdefault(key, work)

    def state(self, key: Hashable, factory: Callable[[], T]) -> T:
        if key not in self._state:
            self._state[key] = factory()
        return self._state[key]

    async def run(self) -> None:
        # Deferred work may defer more (e.g. a regrade that appends to a batch-wide list).
        while self._work:
            key = next(iter(self._work))
            work = self._work.pop(key)
            await work()
        self._state.clear()


def batch_scope(session: AsyncSession) -> BatchScope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, BatchScope) else None


async def at_batch_end(session: AsyncSession, key: Hashable, work: Work) -> None:
    """Run ``work`` once per ``key`` before the consumer's transaction commits; immediately when the
    caller is not inside a consumer transaction (an API request, a rebuild, a unit test)."""
    scope = batch_scope(session)
    if scope is None:
        await work()
    else:
        scope.defer(key, work)


class BatchCollector(Generic[T]):
    """Items gathered over a consumer's batch, and one function (``write``) run over all of them at
    its end, in the order they were added: the rows of a batch written with one statement, the
    subjects it touched evaluated together. Outside a consumer's transaction ``add`` runs ``write``
    at once on the one item, so a request, a rebuild and a batch of one write the same rows.

    ``write`` may add to collectors (this one included): what it adds is written before the
    transaction commits. ``key`` names the collector inside the batch's scope, unique per kind."""

    def __init__(self, key: str, write: Callable[[AsyncSession, list[T]], Awaitable[None]]) -> None:
        self.key = key
        self.write = write

    async def add(self, session: AsyncSession, item: T) -> None:
        scope = batch_scope(session)
        if scope is None:
            await self.write(session, [item])
            return
        items: list[T] = scope.state(self.key, list)
        items.append(item)
        await at_batch_end(session, self.key, lambda: self.flush(session))

    async def add_all(self, session: AsyncSession, items: Sequence[T]) -> None:
        """``add`` of each item in turn, but outside a consumer's transaction ``write`` runs once,
        on all of them (a request's rows in one statement rather than one each)."""
        if not items:
            return
        scope = batch_scope(session)
        if scope is None:
            await self.write(session, list(items))
            return
        gathered: list[T] = scope.state(self.key, list)
        gathered.extend(items)
        await at_batch_end(session, self.key, lambda: self.flush(session))

    async def flush(self, session: AsyncSession) -> None:
        """Write what the batch added so far now (e.g. before a read that must see it); nothing
        outside a batch, where every item was written when added."""
        scope = batch_scope(session)
        if scope is None:
            return
        items: list[T] = scope.state(self.key, list)
        if not items:
            return
        taken = list(items)
        items.clear()
        await self.write(session, taken)
