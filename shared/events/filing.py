"""Events of the filing service (登记备案), on ``childcare.filing.events``, keyed by institution id."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.topics import FILING_EVENTS


@event("cn.gov.gz.childcare.filing.institution.submitted.v1", topic=FILING_EVENTS)
class InstitutionSubmittedV1(EventData):
    """An institution's filing was submitted to its district health bureau (提交备案)."""

    institution_id: UUID
    uscc: str = Field(min_length=18, max_length=18, description="unified social credit code")
    name: str = Field(min_length=1)
    district_code: str = Field(pattern=r"^\d{6}$")
    street_code: str = Field(pattern=r"^\d{9}$")
    submitted_at: datetime
