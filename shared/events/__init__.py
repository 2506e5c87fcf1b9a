"""Event envelope and catalogue. Importing this package registers every event type."""

from shared.events import credit, filing, inspection, reporting
from shared.events.catalogue import (
    CATALOGUE,
    UPCASTERS,
    DecodedEvent,
    EventData,
    PoisonEvent,
    decode,
    event,
    upcast,
    upcaster,
)
from shared.events.envelope import CONTENT_TYPE, CloudEvent

__all__ = [
    "CATALOGUE",
    "CONTENT_TYPE",
    "UPCASTERS",
    "CloudEvent",
    "DecodedEvent",
    "EventData",
    "PoisonEvent",
    "credit",
    "decode",
    "event",
    "filing",
    "inspection",
    "reporting",
    "upcast",
    "upcaster",
]
