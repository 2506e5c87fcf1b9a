"""Events of the inspection service (双随机、一公开), on ``childcare.inspection.events``.

Key: the institution id for everything about an institution (tasks, violations, results), the plan
id for plan-level events. A violation carries ``person_ref`` (keyed hash) when a staff member is
involved, never an ID number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.topics import INSPECTION_EVENTS

Severity = Literal["minor", "general", "serious", "critical"]
InspectionKind = Literal["random", "targeted"]


@event("cn.gov.gz.childcare.inspection.plan.created.v1", topic=INSPECTION_EVENTS)
class PlanCreatedV1(EventData):
    plan_id: UUID
    name: str
    districts: list[str]
    window_start: date
    window_end: date
    created_by: str
    created_at: datetime


@event("cn.gov.gz.childcare.inspection.plan.committed.v1", topic=INSPECTION_EVENTS)
class PlanCommittedV1(EventData):
    """Candidate lists frozen; commitment = sha256(server_seed) published before the draw."""

    plan_id: UUID
    commitment: str = Field(pattern=r"^[0-9a-f]{64}$")
    institutions_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    inspectors_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    institution_count: int = Field(ge=0)
    inspector_count: int = Field(ge=0)
    committed_at: datetime


@event("cn.gov.gz.childcare.inspection.plan.drawn.v1", topic=INSPECTION_EVENTS)
class PlanDrawnV1(EventData):
    plan_id: UUID
    server_seed: str
    witness_value: str
    draw_seed: str = Field(pattern=r"^[0-9a-f]{64}$")
    selected_count: int = Field(ge=0)
    drawn_at: datetime


@event("cn.gov.gz.childcare.inspection.task.assigned.v1", topic=INSPECTION_EVENTS)
class TaskAssignedV1(EventData):
    task_id: UUID
    plan_id: UUID | None = None
    institution_id: UUID
    kind: InspectionKind
    inspector_ids: list[UUID] = Field(min_length=2)
    due_by: date
    assigned_at: datetime


@event("cn.gov.gz.childcare.inspection.task.checked_in.v1", topic=INSPECTION_EVENTS)
class TaskCheckedInV1(EventData):
    task_id: UUID
    institution_id: UUID
    inspector_id: UUID
    distance_m: float = Field(ge=0)
    far_from_site: bool
    checked_in_at: datetime


@event("cn.gov.gz.childcare.inspection.task.submitted.v1", topic=INSPECTION_EVENTS)
class TaskSubmittedV1(EventData):
    task_id: UUID
    institution_id: UUID
    kind: InspectionKind
    items_passed: int = Field(ge=0)
    items_failed: int = Field(ge=0)
    items_not_applicable: int = Field(ge=0)
    violation_count: int = Field(ge=0)
    submitted_at: datetime
    publication_due: date


@event("cn.gov.gz.childcare.inspection.violation.recorded.v1", topic=INSPECTION_EVENTS)
class ViolationRecordedV1(EventData):
    """An inspector recorded a violation in the field (not yet confirmed by review)."""

    violation_id: UUID
    task_id: UUID
    institution_id: UUID
    code: str
    severity: Severity
    recorded_at: datetime


@event("cn.gov.gz.childcare.inspection.violation.confirmed.v1", topic=INSPECTION_EVENTS)
class ViolationConfirmedV1(EventData):
    """A supervisor's review confirmed the violation: this is what the credit service scores.

    ``child_abuse`` marks a confirmed 虐童 violation (critical, zero tolerance): credit drops the
    institution to the lowest grade and bans ``person_ref`` from the industry.
    """

    violation_id: UUID
    task_id: UUID
    institution_id: UUID
    code: str
    title_zh: str
    severity: Severity
    legal_basis: str
    child_abuse: bool = False
    person_ref: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    description: str
    rectification_due: date | None = None
    confirmed_by: str
    confirmed_at: datetime


@event("cn.gov.gz.childcare.inspection.violation.rectification_reported.v1", topic=INSPECTION_EVENTS)
class RectificationReportedV1(EventData):
    violation_id: UUID
    institution_id: UUID
    reported_at: datetime
    evidence_sha256: list[str] = Field(default_factory=list)


@event("cn.gov.gz.childcare.inspection.violation.closed.v1", topic=INSPECTION_EVENTS)
class ViolationClosedV1(EventData):
    """A follow-up verified the rectification (整改到位)."""

    violation_id: UUID
    institution_id: UUID
    closed_at: datetime
    verified_by_task_id: UUID | None = None


@event("cn.gov.gz.childcare.inspection.violation.escalated.v1", topic=INSPECTION_EVENTS)
class ViolationEscalatedV1(EventData):
    """The rectification deadline passed without a verified correction (逾期未整改)."""

    violation_id: UUID
    institution_id: UUID
    severity: Severity
    rectification_due: date
    escalated_at: datetime


@event("cn.gov.gz.childcare.inspection.result.published.v1", topic=INSPECTION_EVENTS)
class InspectionResultPublishedV1(EventData):
    """一公开: an inspection's result was published; key = institution id."""

    institution_id: UUID
    task_id: UUID
    plan_id: UUID | None = None
    kind: InspectionKind = "random"
    conclusion: Literal["compliant", "rectification_required", "non_compliant"]
    violation_count: int = Field(ge=0)
    violations_by_severity: dict[str, int] = Field(default_factory=dict)
    summary_zh: str
    inspected_at: datetime
    published_at: datetime
    on_time: bool = True
