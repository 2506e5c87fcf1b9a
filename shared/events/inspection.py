"""Events of the inspection service (双随机、一公开), on ``childcare.inspection.events``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.topics import INSPECTION_EVENTS


@event("cn.gov.gz.childcare.inspection.result.published.v1", topic=INSPECTION_EVENTS)
class InspectionResultPublishedV1(EventData):
    """一公开: an inspection's result was published; key = institution id."""

    institution_id: UUID
    task_id: UUID
    plan_id: UUID
    conclusion: Literal["compliant", "rectification_required", "non_compliant"]
    violation_count: int = Field(ge=0)
    summary_zh: str
    inspected_at: datetime
    published_at: datetime
