"""The pools' tables: the target pool (projections of filing's and credit's facts, keyed by institution
id without foreign keys: they mirror what filing and credit said, in whatever order their events
arrive) and the inspector pool."""

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
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base
from shared.grades import grade_known

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
