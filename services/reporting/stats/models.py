"""Projections of the domain events that the statistics and the institution summary read.

They are written in the same transaction as the ledger append (consumer ``reporting``), so a
replay of the topics rebuilds them. Events may arrive out of order (three topics, several
partitions, a replay): facts that change over time are kept as versions stamped with the event's
own time and read "newest wins" (profiles, grades), and every row may start as a placeholder that
later events fill in. There are no foreign keys between them for the same reason.
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
    Index,
    Integer,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.reporting.models import Base
from shared.grades import grade_known


class ProjInstitution(Base):
    """The filing lifecycle of one institution (any event about an unknown institution creates the
    row as a placeholder: every time column null)."""

    __tablename__ = "proj_institution"

    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # From the newest submission without a profile (the profile versions hold the rest).
    name: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(Text)
    identity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# rank of a profile's source when two versions carry the same time: the later step wins
PROFILE_RANK = {"submitted": 0, "filed": 1, "changed": 2}


class ProjInstitutionProfile(Base):
    """One version of an institution's profile (submitted, filed or changed), valid from
    ``effective_at`` until the next version."""

    __tablename__ = "proj_institution_profile"
    # No check on the slot figures: the contract does not bound them, and a projection must never
    # refuse an event the ledger has to record (both commit or neither does).
    __table_args__ = (
        CheckConstraint("rank BETWEEN 0 AND 2", name="rank_known"),
        Index("ix_proj_institution_profile_institution_effective", "institution_id", "effective_at"),
    )

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    effective_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rank: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(Text)
    operating_model: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str] = mapped_column(Text)
    total_slots: Mapped[int] = mapped_column(Integer)
    puhui_slots: Mapped[int] = mapped_column(Integer)
    # classes (班) of the version; null if projected before reporting_0011 (a rebuild fills it)
    class_count: Mapped[int | None] = mapped_column(Integer)


class ProjStaff(Base):
    """A staff member's employment. ``StaffLeftV1`` before ``StaffHiredV1`` leaves a placeholder
    (role null) that the hire completes. Certificates keep kind and expiry only (no numbers)."""

    __tablename__ = "proj_staff"
    __table_args__ = (Index("ix_proj_staff_institution", "institution_id"),)

    staff_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    role: Mapped[str | None] = mapped_column(Text)
    hired_on: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    certificates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    training_hours: Mapped[float] = mapped_column(Float, server_default=text("0"))


class ProjAnnualReport(Base):
    """One institution's annual report (年报) for one year: submitted and/or marked overdue."""

    __tablename__ = "proj_annual_report"
    __table_args__ = (CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    overdue_due_date: Mapped[date | None] = mapped_column(Date)


class ProjInspection(Base):
    """A published inspection result (一公开)."""

    __tablename__ = "proj_inspection"
    __table_args__ = (Index("ix_proj_inspection_institution", "institution_id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(Text)
    violation_count: Mapped[int] = mapped_column(Integer)
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjViolation(Base):
    """A violation: counted once confirmed; open until closed. Closed or escalated before the
    confirmation arrives leaves a placeholder the confirmation completes."""

    __tablename__ = "proj_violation"
    __table_args__ = (Index("ix_proj_violation_institution", "institution_id"),)

    violation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    code: Mapped[str | None] = mapped_column(Text)
    title_zh: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rectification_due: Mapped[date | None] = mapped_column(Date)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProjCreditGrade(Base):
    """Every grade an institution was given, and every change of score inside a grade
    (``InstitutionRescoredV1``); the newest ``graded_at`` is in force."""

    __tablename__ = "proj_credit_grade"
    __table_args__ = (
        CheckConstraint(grade_known(), name="grade_known"),
        Index("ix_proj_credit_grade_institution_graded", "institution_id", "graded_at"),
    )

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    grade: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjSuspension(Base):
    """A change of an institution's suspension (暂停收托): ``suspended`` true from filing's
    ``institution.suspended.v1``, false from ``institution.resumed.v1`` (a suspension ended by
    deregistration is the lifecycle's ``deregistered_at``). Kept per event; the state at a time is
    the newest change before it, whatever order the events arrived in."""

    __tablename__ = "proj_suspension"
    __table_args__ = (Index("ix_proj_suspension_institution_changed", "institution_id", "changed_at"),)

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    suspended: Mapped[bool] = mapped_column(Boolean)


class ProjFilingDecision(Base):
    """One filing decision (备案 filed / returned / rejected), kept per event: an institution may be
    returned several times before it is filed, and the pass rate counts decisions, not institutions."""

    __tablename__ = "proj_filing_decision"
    __table_args__ = (
        CheckConstraint("outcome IN ('filed', 'returned', 'rejected')", name="outcome_known"),
        Index("ix_proj_filing_decision_decided", "decided_at"),
    )

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjQualityAssessment(Base):
    """A quality assessment (质量评估), self or on-site; the newest ``assessed_at`` on-site one is the
    institution's standing grade."""

    __tablename__ = "proj_quality_assessment"
    __table_args__ = (
        CheckConstraint("kind IN ('self', 'onsite')", name="kind_known"),
        CheckConstraint(grade_known(), name="grade_known"),
        Index("ix_proj_quality_assessment_institution_assessed", "institution_id", "assessed_at"),
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    district_code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjUnlicensedCase(Base):
    """An unlicensed-operator case (无证照). The closing event repeats the district and the opening
    time, so a closure that arrives first creates a complete row; the opening's district wins."""

    __tablename__ = "proj_unlicensed_case"
    __table_args__ = (CheckConstraint("outcome IS NULL OR outcome IN ('filed', 'closed_down')", name="outcome_known"),)

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    district_code: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)


class ProjComplaint(Base):
    """A complaint (投诉) as the public statistics count it: district, category, when it was received
    and how it was triaged. No words or contact of the complainant (the events carry none). A triage
    that arrives before the receipt creates the row with the triage's district; the receipt's district
    and category win."""

    __tablename__ = "proj_complaint"

    complaint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    district_code: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    action: Mapped[str | None] = mapped_column(Text)
