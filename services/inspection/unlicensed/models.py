"""Unlicensed-operator cases (无证照机构治理) and their guidance plans (一园一策)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base


class UnlicensedCase(Base):
    """``status``: open → filed (linked to the filing) | closed_down (enforcement record).

    The case id doubles as the site's id: a targeted inspection of the site is a task whose
    ``institution_id`` is the case id (there is no filing yet to name it)."""

    __tablename__ = "unlicensed_case"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'filed', 'closed_down')", name="status_known"),
        CheckConstraint("source IN ('complaint', 'inspection')", name="source_known"),
        CheckConstraint("status <> 'filed' OR institution_id IS NOT NULL", name="filed_has_institution"),
        CheckConstraint("status <> 'closed_down' OR enforcement IS NOT NULL", name="closed_down_has_record"),
        Index("ix_unlicensed_case_district", "district_code", "status"),
        Index("ix_unlicensed_case_uscc", "uscc"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    source: Mapped[str] = mapped_column(Text)
    complaint_id: Mapped[uuid.UUID | None] = mapped_column()
    violation_id: Mapped[uuid.UUID | None] = mapped_column()
    district_code: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    operator_name: Mapped[str | None] = mapped_column(Text)
    uscc: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(Text)
    institution_id: Mapped[uuid.UUID | None] = mapped_column()
    enforcement: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    opened_by: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GuidanceStepRow(Base):
    """One step of a case's guidance plan; ``completed_at`` null = still open."""

    __tablename__ = "unlicensed_step"
    __table_args__ = (Index("ix_unlicensed_step_open_due", "due_on", postgresql_where=text("completed_at IS NULL")),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unlicensed_case.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title_zh: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
