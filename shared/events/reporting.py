"""Events of the reporting service, on ``childcare.ledger.changes`` (one partition, total order)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.topics import LEDGER_CHANGES


@event("cn.gov.gz.childcare.reporting.ledger.entry_appended.v1", topic=LEDGER_CHANGES)
class LedgerEntryAppendedV1(EventData):
    """An entry was appended to the shared ledger (信息共享台账)."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_event_id: str
    source_event_type: str
    subject: str
    recorded_at: datetime


@event("cn.gov.gz.childcare.reporting.ledger.entry_shared.v1", topic=LEDGER_CHANGES)
class LedgerEntrySharedV1(EventData):
    """An entry was appended to the shared ledger (信息共享台账); one record per entry, in index order.

    Carries only what every agency may see (the intersection of all data-sharing grants): the
    entry's position and leaf hash, the source event's identity and type, and ``data`` reduced to
    the fields every agency is granted. ``subject`` is null (and ``data`` empty) unless every agency
    is granted the source event's type. The reporting service emits this instead of
    ``LedgerEntryAppendedV1``, which exposed every subject to every reader of the topic."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256(0x00 || leaf)")
    source_event_id: str
    source_event_source: str
    source_event_type: str
    subject: str | None = None
    event_time: datetime
    recorded_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
