"""Credit service tables (its own database).

``credit_entry`` is append-only (a trigger refuses UPDATE and DELETE): a repair is a separate row in
``credit_repair``, never an edit of the entry. Entry ids are derived from (subject, rule, source), so
a replay of the same events into an empty database produces the same ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, LargeBinary, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


class CreditSubject(Base):
    """One credit record (诚信档案): an institution (by id) or a person (by person_ref).

    ``opened_at``/``opened_by_event_id`` name the earliest event (by its own time) that concerns the
    subject, whatever order events arrived in; ``profile_at`` is the time of the filing event the
    name and district come from (the newest wins)."""

    __tablename__ = "credit_subject"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", name="uq_credit_subject_kind_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_by_event_id: Mapped[str] = mapped_column(Text)
    profile_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CreditEntry(Base):
    """One fact that counts for or against a subject, with the event that caused it. Only the fact:
    its points and counting period come from the policy version in force at evaluation time."""

    __tablename__ = "credit_entry"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_id", "rule_id", "source_key", name="uq_credit_entry_source"),
        Index("ix_credit_entry_subject", "subject_kind", "subject_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(Text)  # e.g. the violation id: one entry per fact
    source_event_id: Mapped[str] = mapped_column(Text)
    source_event_type: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The event's own legal basis (a violation's article); None = the rule's, from the policy in force.
    legal_basis: Mapped[str | None] = mapped_column(Text)
    detail_zh: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditRepair(Base):
    """A credit-repair application (信用修复) for one entry, and its decision.

    No foreign key to ``credit_entry``: in a replay the repair's event (credit topic) may come before
    the entry's (inspection topic); it takes effect once the entry, with the same derived id, exists."""

    __tablename__ = "credit_repair"
    __table_args__ = (Index("ix_credit_repair_subject", "subject_kind", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entry_id: Mapped[uuid.UUID] = mapped_column()
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # pending | approved | refused
    evidence_sha256: Mapped[list[str]] = mapped_column(ARRAY(Text))
    commitment_zh: Mapped[str] = mapped_column(Text)
    applied_by: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class CreditEvidence(Base):
    """A document uploaded as evidence for the repair of one entry (rectification report, paid fine,
    credit commitment), stored with the SHA-256 of its bytes: a repair application may name only
    documents uploaded for its entry (shared/duties.py ``credit.repair_evidence_uploaded``)."""

    __tablename__ = "credit_evidence"

    entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditStanding(Base):
    """The subject's current score and grade, as last evaluated (what was published)."""

    __tablename__ = "credit_standing"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", name="uq_credit_standing_subject"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(Text)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the grade last changed
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditGradeHistory(Base):
    """Every grade a subject had, under each policy version (a new row per change or new version),
    dated when it happened (``timeline.py``); a late fact rewrites the rows after its time."""

    __tablename__ = "credit_grade_history"
    __table_args__ = (Index("ix_credit_grade_history_subject", "subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(Text)
    previous_grade: Mapped[str | None] = mapped_column(Text)
    score: Mapped[int] = mapped_column(Integer)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)


class CreditListMembership(Base):
    """A stay on a list (严重失信主体名单, 从业禁止); current while ``left_at`` is null."""

    __tablename__ = "credit_list_membership"
    __table_args__ = (
        Index(
            "uq_credit_list_membership_current",
            "list_name",
            "subject_kind",
            "subject_id",
            unique=True,
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_credit_list_membership_subject", "subject_kind", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    list_name: Mapped[str] = mapped_column(Text)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cause_entry_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_reason: Mapped[str | None] = mapped_column(Text)


class CreditPolicyActivation(Base):
    """Which policy version is in force: the row with the latest ``activated_at`` at or before the
    moment in question (none = the configured default). Rows come from the API or, in a replay, from
    ``CreditPolicyActivatedV1`` with the event's own time."""

    __tablename__ = "credit_policy_activation"
    __table_args__ = (Index("ix_credit_policy_activation_at", "activated_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    version: Mapped[str] = mapped_column(Text)
    activated_by: Mapped[str] = mapped_column(Text)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
