"""Events of the inspection service (双随机、一公开), on ``childcare.inspection.events``.

Key: the institution id for everything about an institution (tasks, violations, results), the plan
id for plan-level events. A violation carries ``person_ref`` (keyed hash) when a staff member is
involved, never an ID number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.catalogue import EventData, event
from shared.grades import Grade
from shared.topics import INSPECTION_EVENTS

Severity = Literal["minor", "general", "serious", "critical"]
InspectionKind = Literal["random", "targeted"]
Conclusion = Literal["compliant", "rectification_required", "non_compliant"]
# The one vocabulary of conclusions, for every page, answer and document that shows one.
CONCLUSION_ZH: dict[str, str] = {"compliant": "合格", "rectification_required": "责令整改", "non_compliant": "不合格"}


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


class WitnessObserver(BaseModel):
    """An independent observer (监督员) of a draw, named by organisation, and its commitment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observer_id: UUID
    organisation: str
    commitment: str = Field(pattern=r"^[0-9a-f]{64}$")
    registered_at: datetime


class BeaconRound(BaseModel):
    """A public randomness beacon round (drand, scheme ``bls-unchained-g1-rfc9380``) a v3 plan names at
    its commit as a further witness: the chain as its operators publish it and the round; at the draw,
    the round's BLS signature (verified against ``public_key``) and randomness = sha256(signature)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    scheme: str
    public_key: str = Field(pattern=r"^[0-9a-f]{192}$")
    genesis_time: int = Field(ge=0)
    period_seconds: int = Field(ge=1)
    round: int = Field(ge=1)
    round_time: datetime
    signature: str | None = Field(default=None, pattern=r"^[0-9a-f]{96}$")
    randomness: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


@event("cn.gov.gz.childcare.inspection.plan.committed.v2", topic=INSPECTION_EVENTS)
class PlanCommittedV2(EventData):
    """v1 plus what makes the draw unpredictable from inside (algorithm gz-childcare-draw/v3): the
    algorithm, the observers' commitments, the earliest reveal time and the end of the grace period
    after which a withheld reveal no longer blocks the draw (docs/draw.md §1.1)."""

    plan_id: UUID
    algorithm: str
    commitment: str = Field(pattern=r"^[0-9a-f]{64}$")
    institutions_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    inspectors_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    institution_count: int = Field(ge=0)
    inspector_count: int = Field(ge=0)
    observers: list[WitnessObserver] = Field(default_factory=list)
    reveal_not_before: datetime | None = None
    withheld_after: datetime | None = None
    # the beacon round named at the commit (no signature yet); null when the plan names none
    beacon: BeaconRound | None = None
    committed_at: datetime


class WitnessReveal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    observer_id: UUID
    value: str
    salt: str = Field(pattern=r"^[0-9a-f]{64}$")
    revealed_at: datetime


@event("cn.gov.gz.childcare.inspection.plan.drawn.v2", topic=INSPECTION_EVENTS)
class PlanDrawnV2(EventData):
    """v1 plus the observers' reveals, those that withheld, the witness digest and beacon (algorithm v3);
    ``witness_value`` is the single witness of v1/v2 plans and null for v3."""

    plan_id: UUID
    server_seed: str
    witness_value: str | None = None
    reveals: list[WitnessReveal] = Field(default_factory=list)
    withheld: list[UUID] = Field(default_factory=list)
    witness_digest: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # the beacon round with its verified signature and randomness; null when the plan names none
    beacon: BeaconRound | None = None
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


@event("cn.gov.gz.childcare.inspection.task.inspector_removed.v1", topic=INSPECTION_EVENTS)
class TaskInspectorRemovedV1(EventData):
    """An inspector was taken off an open task's team: ``conflict_of_interest`` when a conflict (回避)
    with the institution was declared after the assignment (``conflict_id``), ``reassigned`` when a
    supervisor set a new team. From then on the inspector can neither read nor write the task.
    ``needs_reassignment``: the task waits for the supervisor to complete its team. Key = institution id."""

    task_id: UUID
    institution_id: UUID
    inspector_id: UUID
    reason: Literal["conflict_of_interest", "reassigned"]
    conflict_id: UUID | None = None
    needs_reassignment: bool
    removed_by: str
    removed_at: datetime


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
    conclusion: Conclusion
    violation_count: int = Field(ge=0)
    violations_by_severity: dict[str, int] = Field(default_factory=dict)
    summary_zh: str
    inspected_at: datetime
    published_at: datetime
    on_time: bool = True


# --- complaints (投诉), unlicensed operators (无证照治理), quality assessment (质量评估) -----------------
#
# Complaint events are keyed by the institution id when the complaint names one, else by the complaint
# id; unlicensed-case events by the case id (which is also the "institution_id" of the case's
# targeted-inspection events, so a case and its inspections share a key and stay in order);
# assessment events by the institution id. None carries a complainant's words or contact.

ComplaintCategory = Literal["safety", "abuse", "hygiene_food", "staffing", "fees", "unlicensed", "other"]


@event("cn.gov.gz.childcare.inspection.complaint.received.v1", topic=INSPECTION_EVENTS)
class ComplaintReceivedV1(EventData):
    complaint_id: UUID
    about: Literal["institution", "address"]
    institution_id: UUID | None = None
    district_code: str
    street_code: str | None = None
    category: ComplaintCategory
    anonymous: bool
    received_at: datetime


@event("cn.gov.gz.childcare.inspection.complaint.triaged.v1", topic=INSPECTION_EVENTS)
class ComplaintTriagedV1(EventData):
    complaint_id: UUID
    action: Literal["targeted_inspection", "referral", "close", "open_unlicensed_case"]
    district_code: str
    institution_id: UUID | None = None
    task_id: UUID | None = None
    case_id: UUID | None = None
    referred_to: str | None = None
    triaged_by: str
    triaged_at: datetime


class GuidanceStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: UUID
    title_zh: str
    due_on: date


@event("cn.gov.gz.childcare.inspection.unlicensed.case_opened.v1", topic=INSPECTION_EVENTS)
class UnlicensedCaseOpenedV1(EventData):
    """An unlicensed-operator case (无证照机构) was opened, from a complaint or an inspection finding."""

    case_id: UUID
    source: Literal["complaint", "inspection"]
    complaint_id: UUID | None = None
    violation_id: UUID | None = None
    district_code: str
    street_code: str | None = None
    opened_by: str
    opened_at: datetime


@event("cn.gov.gz.childcare.inspection.unlicensed.plan_set.v1", topic=INSPECTION_EVENTS)
class GuidancePlanSetV1(EventData):
    """The case's guidance plan (一园一策) as it now stands: every open step with its deadline."""

    case_id: UUID
    district_code: str
    steps: list[GuidanceStep]
    set_by: str
    set_at: datetime


@event("cn.gov.gz.childcare.inspection.unlicensed.step_completed.v1", topic=INSPECTION_EVENTS)
class GuidanceStepCompletedV1(EventData):
    case_id: UUID
    step_id: UUID
    due_on: date
    overdue: bool
    completed_by: str
    completed_at: datetime


@event("cn.gov.gz.childcare.inspection.unlicensed.case_closed.v1", topic=INSPECTION_EVENTS)
class UnlicensedCaseClosedV1(EventData):
    """``filed``: the operator filed (``institution_id`` = its filing); ``closed_down``: 依法关停
    (``enforcement_decision_no`` = the enforcement record)."""

    case_id: UUID
    outcome: Literal["filed", "closed_down"]
    district_code: str
    institution_id: UUID | None = None
    enforcement_decision_no: str | None = None
    opened_at: datetime
    closed_at: datetime


@event("cn.gov.gz.childcare.inspection.quality.assessed.v1", topic=INSPECTION_EVENTS)
class QualityAssessedV1(EventData):
    """A quality assessment under a WS/T 821 scheme version. ``veto_failed``: a 基础 (veto) item was
    not met, which fails the assessment (grade = the scheme's failing grade) whatever the points."""

    assessment_id: UUID
    institution_id: UUID
    district_code: str
    scheme_version: str
    kind: Literal["self", "onsite"]
    score: float = Field(ge=0)
    max_score: float = Field(gt=0)
    grade: Grade
    veto_failed: bool
    veto_failed_items: list[str] = Field(default_factory=list)
    dimension_scores: dict[str, float] = Field(default_factory=dict)
    assessed_by: str
    assessed_at: datetime
    reassess_by: date
