"""Events of the credit service (诚信档案), on ``childcare.credit.events``, keyed by subject id."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.topics import CREDIT_EVENTS


@event("cn.gov.gz.childcare.credit.record.opened.v1", topic=CREDIT_EVENTS)
class CreditRecordOpenedV1(EventData):
    """A credit record (诚信档案) was opened for an institution or a person."""

    subject_kind: Literal["institution", "person"]
    subject_id: str = Field(min_length=1)
    opened_at: datetime
    cause_event_id: str = Field(min_length=1, description="the event that opened the record")
