"""Field tasks: members, check-ins, findings, violations and published results."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base

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
