"""The event catalogue: every event type is a pydantic model registered under its versioned type.

Producers and consumers import the same models. An old version stays readable through upcasters
(pure functions ``dict -> dict`` that lift version N's data to N+1), applied before validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.events.envelope import CloudEvent

TYPE_PREFIX = "cn.gov.gz.childcare."


class EventData(BaseModel):
    """Base of every event payload. ``event_type`` and ``topic`` are set by ``@event``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]


E = TypeVar("E", bound=type[EventData])
D = TypeVar("D", bound=EventData)

CATALOGUE: dict[str, type[EventData]] = {}
UPCASTERS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


def event(event_type: str, *, topic: str) -> Callable[[E], E]:
    if not event_type.startswith(TYPE_PREFIX) or not event_type.rsplit(".", 1)[-1].startswith("v"):
        raise ValueError(f"event type must be '{TYPE_PREFIX}<service>.<entity>.<what>.v<N>': {event_type}")

    def register(cls: E) -> E:
        if event_type in CATALOGUE and CATALOGUE[event_type] is not cls:
            raise ValueError(f"event type registered twice: {event_type}")
        cls.event_type = event_type
        cls.topic = topic
        CATALOGUE[event_type] = cls
        return cls

    return register


def upcaster(old_type: str, new_type: str) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Any]:
    def register(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        UPCASTERS[old_type] = (new_type, fn)
        return fn

    return register


class PoisonEvent(Exception):
    """A record that can never be processed, whatever the retries: straight to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class DecodedEvent:
    envelope: CloudEvent  # upcast to the current version of its type
    data: EventData
    received: CloudEvent | None = None  # exactly as it arrived, when upcasting changed it

    @property
    def original(self) -> CloudEvent:
        """The event as published (what an append-only record must keep)."""
        return self.received or self.envelope

    @property
    def type(self) -> str:
        return self.envelope.type


def upcast(event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    seen = set()
    while event_type in UPCASTERS and event_type not in CATALOGUE:
        if event_type in seen:
            raise PoisonEvent("upcast_cycle", event_type)
        seen.add(event_type)
        event_type, fn = UPCASTERS[event_type][0], UPCASTERS[event_type][1]
        data = fn(dict(data))
    return event_type, data


def read_payload(model: type[D], data: dict[str, Any]) -> D:
    """Tolerant reader: validate a received payload, ignoring unknown fields at every depth.

    A producer one version ahead may add an optional field anywhere in a payload (the nested
    institution profile, a list item) before every consumer knows it; a consumer one version behind
    must apply such an event as if the field were absent, not dead-letter it. The models themselves
    stay ``extra="forbid"``: what our code constructs is strict, so a producer cannot misspell a field.
    pydantic's per-validation ``extra`` reaches every nested model, so no model needs a tolerant twin.
    """
    return model.model_validate(data, extra="ignore")


def decode(value: bytes | None) -> DecodedEvent:
    if value is None:
        raise PoisonEvent("undecodable", "record has no value")
    try:
        raw = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonEvent("undecodable", f"not UTF-8 JSON: {exc}") from exc
    try:
        envelope = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise PoisonEvent("invalid_envelope", _short(exc)) from exc
    event_type, data = upcast(envelope.type, envelope.data)
    model = CATALOGUE.get(event_type)
    if model is None:
        raise PoisonEvent("unknown_event_type", envelope.type)
    try:
        payload = read_payload(model, data)
    except ValidationError as exc:
        raise PoisonEvent("invalid_payload", f"{event_type}: {_short(exc)}") from exc
    if event_type != envelope.type:
        upcast_envelope = envelope.model_copy(update={"type": event_type, "data": payload.model_dump(mode="json")})
        return DecodedEvent(envelope=upcast_envelope, data=payload, received=envelope)
    return DecodedEvent(envelope=envelope, data=payload)


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5])
