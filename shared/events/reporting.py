"""Events of the reporting service, on ``childcare.ledger.changes`` (one partition, total order)."""

from __future__ import annotations

from datetime import datetime

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
