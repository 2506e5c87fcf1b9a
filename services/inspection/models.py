"""Inspection service tables (its own database).

Projections of other services' facts (``target_*``) are keyed by institution id without foreign
keys: they mirror what filing and credit said, in whatever order their events arrive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata
from shared.grades import grade_known


class Base(DeclarativeBase):
    metadata = make_metadata()


# --- target pool (检查对象名录库), projected from filing and credit events --------------------------


class TargetInstitution(Base):
    """A filed institution as the filing service last described it. ``status``: filed | deregistered."""

    __tablename__ = "target_institution"
    __table_args__ = (
        CheckConstraint("status IN ('filed', 'deregistered')", name="status_known"),
        Index("ix_target_institution_district", "district_code", "status"),
    )

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    operating_model: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    # time of the filing event the profile came from: an older event never overwrites a newer one
    profile_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TargetGrade(Base):
    """The newest credit grade (by ``graded_at``) per institution; may arrive before the filing."""

    __tablename__ = "target_grade"
    __table_args__ = (CheckConstraint(grade_known(), name="grade_known"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(Text)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[str] = mapped_column(Text)


class TargetStaff(Base):
    """Roster entries (no ID numbers): lets an inspector name the person_ref of a staff member."""

    __tablename__ = "target_staff"

    staff_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(index=True)
    person_ref: Mapped[str] = mapped_column(Text)
    id_masked: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    left_on: Mapped[date | None] = mapped_column(Date)


# --- inspector pool (执法检查人员名录库) -------------------------------------------------------------


class Inspector(Base):
    __tablename__ = "inspector"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(Text, unique=True)  # the JWT ``sub`` of the inspector's token
    name: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(Text)
    badge_number: Mapped[str] = mapped_column(Text, unique=True)  # 执法证号
    districts: Mapped[list[str]] = mapped_column(ARRAY(Text))
    active: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InspectorConflict(Base):
    """A declared conflict of interest (回避): the inspector never inspects that institution."""

    __tablename__ = "inspector_conflict"
    __table_args__ = (UniqueConstraint("inspector_id", "institution_id", name="uq_inspector_conflict_pair"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspector.id"))
    institution_id: Mapped[uuid.UUID] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- plans and draws -------------------------------------------------------------------------------


class Plan(Base):
    """A random-inspection plan. ``status``: draft → committed (lists frozen) → drawn."""

    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'committed', 'drawn')", name="status_known"),
        CheckConstraint("team_size >= 2", name="team_size_min"),
        CheckConstraint("window_start <= window_end", name="window_ordered"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    districts: Mapped[list[str]] = mapped_column(ARRAY(Text))
    operating_models: Mapped[list[str]] = mapped_column(ARRAY(Text))  # empty = every model
    ratios: Mapped[dict[str, str]] = mapped_column(JSONB)  # grade -> decimal string
    team_size: Mapped[int] = mapped_column(Integer)
    # the draw algorithm, fixed at creation like the parameters (services/inspection/draw.py ALGORITHMS)
    algorithm: Mapped[str] = mapped_column(Text)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    checklist: Mapped[list[str]] = mapped_column(JSONB)
    publication_working_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set at commit; the server seed stays secret (never returned) until the draw
    server_seed: Mapped[str | None] = mapped_column(Text)
    commitment: Mapped[str | None] = mapped_column(Text)
    institutions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    inspectors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    institutions_hash: Mapped[str | None] = mapped_column(Text)
    inspectors_hash: Mapped[str | None] = mapped_column(Text)
    committed_by: Mapped[str | None] = mapped_column(Text)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # set at the draw
    witness_value: Mapped[str | None] = mapped_column(Text)
    draw_seed: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    drawn_by: Mapped[str | None] = mapped_column(Text)
    drawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # v3 (docs/draw.md §1.1): fixed at commit, the earliest reveal time and the end of the grace
    # period after which a withheld reveal no longer blocks the draw; the witness digest at the draw
    reveal_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withheld_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    witness_digest: Mapped[str | None] = mapped_column(Text)


class PlanObserver(Base):
    """An independent observer (监督员) of a plan's draw, named by organisation (never a person):
    its commitment sha256(value || salt) is registered before the commit, its value and salt revealed
    after the plan's reveal time; ``withheld`` set by a draw that went ahead without it."""

    __tablename__ = "plan_observer"
    __table_args__ = (UniqueConstraint("plan_id", "commitment", name="uq_plan_observer_commitment"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"), index=True)
    organisation: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[str | None] = mapped_column(Text)
    salt: Mapped[str | None] = mapped_column(Text)
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withheld: Mapped[bool] = mapped_column(Boolean, default=False)


# --- field tasks ------------------------------------------------------------------------------------


class Task(Base):
    """One inspection of one institution. ``status``: assigned → in_progress → submitted → reviewed."""

    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint("kind IN ('random', 'targeted')", name="kind_known"),
        CheckConstraint("status IN ('assigned', 'in_progress', 'submitted', 'reviewed')", name="status_known"),
        Index("ix_task_institution", "institution_id", "created_at"),
        Index("ix_task_needs_reassignment", "needs_reassignment", postgresql_where=text("needs_reassignment")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan.id"))
    institution_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)  # targeted: why (complaint, follow-up, …)
    follow_up_of: Mapped[uuid.UUID | None] = mapped_column()  # targeted follow-up of a violation
    # targeted inspection of an unlicensed site: the case (whose id is then also institution_id)
    case_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    checklist: Mapped[list[str]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    due_by: Mapped[date] = mapped_column(Date)
    publication_working_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publication_due: Mapped[date | None] = mapped_column(Date)
    publication_due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # an open task whose team lost a member (deactivated, or removed for a conflict of interest):
    # the supervisor reassigns it (PUT /v1/tasks/{id}/team); it cannot be submitted until then
    needs_reassignment: Mapped[bool] = mapped_column(Boolean, default=False)


class TaskMember(Base):
    """A team member of a task; ``signed_at`` is their signature on the submitted record. A member
    taken off the team (``removed_at``; ``removed_reason``: conflict_of_interest | reassigned) keeps
    the row as the record of who was on it, and has no access to the task any more."""

    __tablename__ = "task_member"
    __table_args__ = (
        CheckConstraint(
            "removed_reason IS NULL OR removed_reason IN ('conflict_of_interest', 'reassigned')",
            name="removed_reason_known",
        ),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), primary_key=True)
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspector.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_reason: Mapped[str | None] = mapped_column(Text)


class CheckIn(Base):
    __tablename__ = "task_checkin"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), index=True)
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspector.id"))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    far_from_site: Mapped[bool] = mapped_column(Boolean)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Finding(Base):
    __tablename__ = "task_finding"
    __table_args__ = (CheckConstraint("result IN ('pass', 'fail', 'not_applicable')", name="result_known"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), primary_key=True)
    item_code: Mapped[str] = mapped_column(Text, primary_key=True)
    result: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    evidence_sha256: Mapped[list[str]] = mapped_column(ARRAY(Text))
    updated_by: Mapped[uuid.UUID] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Violation(Base):
    """``status``: recorded → confirmed | dismissed; confirmed → rectification_reported → closed;
    confirmed/rectification_reported → escalated when the deadline passes."""

    __tablename__ = "violation"
    __table_args__ = (
        CheckConstraint(
            "status IN ('recorded', 'dismissed', 'confirmed', 'rectification_reported', 'closed', 'escalated')",
            name="status_known",
        ),
        CheckConstraint("severity IN ('minor', 'general', 'serious', 'critical')", name="severity_known"),
        Index("ix_violation_status_due", "status", "rectification_due"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    person_ref: Mapped[str | None] = mapped_column(Text)
    evidence_sha256: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[uuid.UUID] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rectification_due: Mapped[date | None] = mapped_column(Date)
    rectification_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_task_id: Mapped[uuid.UUID | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PublishedResult(Base):
    """一公开: what the public sees, snapshotted at publication (no personal data)."""

    __tablename__ = "published_result"
    __table_args__ = (
        CheckConstraint(
            "conclusion IN ('compliant', 'rectification_required', 'non_compliant')", name="conclusion_known"
        ),
        Index("ix_published_result_published_at", "published_at"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(index=True)
    institution_name: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(Text)
    violations_by_severity: Mapped[dict[str, int]] = mapped_column(JSONB)
    summary_zh: Mapped[str] = mapped_column(Text)
    inspected_on: Mapped[date] = mapped_column(Date)
    publication_due: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_time: Mapped[bool] = mapped_column(Boolean)


# --- idempotency of the mobile API ------------------------------------------------------------------


class IdempotencyRecord(Base):
    """The first successful response to (caller, Idempotency-Key); a retry gets it back verbatim."""

    __tablename__ = "idempotency_record"

    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)  # sha256 of method, path and the validated body
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
