"""Annual reports (年报) and the overdue marks left by the deadline sweep."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.filing.models import Base


class AnnualReport(Base):
    """One institution's report for one calendar year. ``on_time`` is fixed at submission: submitted
    (Beijing date) on or before the year's due date."""

    __tablename__ = "annual_report"
    __table_args__ = (
        UniqueConstraint("institution_id", "year", name="uq_annual_report_institution_id_year"),
        Index("ix_annual_report_year", "year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint(
            "enrolled_children >= 0 AND staff_count >= 0 AND incidents >= 0 AND monthly_fee_yuan >= 0"
            " AND (puhui_monthly_fee_yuan IS NULL OR puhui_monthly_fee_yuan >= 0)",
            name="counts_non_negative",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    year: Mapped[int] = mapped_column(Integer)
    # [{"class_type": "toddler", "children": 12}, …]; enrolled_children is their sum
    enrolment: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    enrolled_children: Mapped[int] = mapped_column(Integer)
    # {"carers": 5, "health": 1, "principal": 1, "other": 2}; staff_count is their sum
    staff: Mapped[dict[str, int]] = mapped_column(JSONB)
    staff_count: Mapped[int] = mapped_column(Integer)
    incidents: Mapped[int] = mapped_column(Integer)
    incident_descriptions: Mapped[list[str]] = mapped_column(ARRAY(Text))
    monthly_fee_yuan: Mapped[int] = mapped_column(Integer)
    puhui_monthly_fee_yuan: Mapped[int | None] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    on_time: Mapped[bool] = mapped_column(Boolean)
    submitted_by: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnnualReportOverdue(Base):
    """The sweep's mark that a year's report was missing after its due date. The unique pair is what
    makes the overdue event exactly-once across repeated and concurrent sweeps; a mark is never
    removed, a later (late) report simply exists beside it."""

    __tablename__ = "annual_report_overdue"
    __table_args__ = (
        UniqueConstraint("institution_id", "year", name="uq_annual_report_overdue_institution_id_year"),
        Index("ix_annual_report_overdue_year", "year"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    year: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    district_code: Mapped[str] = mapped_column(Text)
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
