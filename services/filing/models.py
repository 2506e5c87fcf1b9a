"""Filing service tables (its own database). Sub-domains (staff, annual reports, directory) keep
their tables in their own ``models.py`` on the same ``Base``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


class Institution(Base):
    """One institution's filing. ``status``: submitted → filed | returned | rejected; filed →
    deregistered; filed → suspended (暂停收托, a confirmed child-abuse case) → filed | deregistered
    (the filing officers' decision). Filed values stay in force while a key change awaits its decision."""

    __tablename__ = "institution"
    __table_args__ = (
        Index("ix_institution_district_street", "district_code", "street_code"),
        Index("ix_institution_status_due", "status", "decision_due"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    uscc: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    organiser_type: Mapped[str] = mapped_column(Text)
    operating_model: Mapped[str] = mapped_column(Text)
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    district_code: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    premises_area_m2: Mapped[float] = mapped_column(Float)
    # [{"class_type": "infant", "size": 10}, …]; total_slots is their sum
    classes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total_slots: Mapped[int] = mapped_column(Integer)
    puhui_slots: Mapped[int] = mapped_column(Integer)
    monthly_fee_yuan: Mapped[int] = mapped_column(Integer)
    meals: Mapped[bool] = mapped_column(Boolean)
    outdoor_area_m2: Mapped[float | None] = mapped_column(Float)
    puhui_monthly_fee_yuan: Mapped[int | None] = mapped_column(Integer)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    public_phone: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    # {"business_licence": "<sha256>", …}
    documents: Mapped[dict[str, str]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    submission: Mapped[int] = mapped_column(Integer, default=1)
    submitted_by: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision_due: Mapped[date | None] = mapped_column(Date)
    decision_due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1)


class InstitutionDecision(Base):
    """Every decision with its reason: the filing's audit trail."""

    __tablename__ = "institution_decision"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    change_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institution_change.id"))
    decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_time: Mapped[bool] = mapped_column(Boolean)


class InstitutionChange(Base):
    """A change (变更) of key fields awaiting a decision."""

    __tablename__ = "institution_change"
    __table_args__ = (Index("ix_institution_change_pending", "institution_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)  # pending | approved | returned | rejected
    requested_by: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision_due: Mapped[date] = mapped_column(Date)
    decision_due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InstitutionSuspension(Base):
    """A suspension (暂停收托) and its decision: one row per confirmed child-abuse violation that
    suspended a filed institution (``violation_id`` unique: the same confirmation redelivered under
    another event id suspends nothing twice). Open while ``decided_at`` is null; one officer
    proposes the outcome (``proposed_*``), another confirms it (``decided_*``: four-eyes,
    shared/duties.py ``filing.suspension_confirmer_not_proposer``)."""

    __tablename__ = "institution_suspension"
    __table_args__ = (
        Index(
            "uq_institution_suspension_open",
            "institution_id",
            unique=True,
            postgresql_where=text("decided_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    violation_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    task_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    suspended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    proposed_outcome: Mapped[str | None] = mapped_column(Text)  # resume | deregister
    proposal_reason: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str | None] = mapped_column(Text)
    proposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InstitutionSuspensionCase(Base):
    """Every confirmed child-abuse case of a suspension: the one that suspended the institution and
    any confirmed while it stays suspended (a second case, or two violations of one review: inspection
    emits one event per violation), so the officers deciding see them all. ``violation_id`` unique:
    a case redelivered or replayed is recorded once. Ids and dates only, nothing about the persons."""

    __tablename__ = "institution_suspension_case"

    violation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    suspension_id: Mapped[uuid.UUID] = mapped_column(
        # named here: the naming convention's name would exceed PostgreSQL's 63 characters
        ForeignKey("institution_suspension.id", name="fk_institution_suspension_case_suspension_id"),
        index=True,
    )
    task_id: Mapped[uuid.UUID] = mapped_column()
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentBlob(Base):
    """Uploaded documents, content-addressed: the key is the SHA-256 of the bytes."""

    __tablename__ = "document_blob"

    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    media_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
