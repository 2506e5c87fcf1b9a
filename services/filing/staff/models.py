"""Staff roster tables: employments, the industry-ban projection and each institution's staffing state.

A resident ID number is never stored in clear: ``id_number_encrypted`` (AES-256-GCM via
:class:`shared.pii.PiiVault`) for the authorised detail view, ``id_masked`` for display, and
``person_ref`` (keyed HMAC) for joins and de-duplication.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, LargeBinary, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.filing.models import Base

ROLE_ZH: dict[str, str] = {
    "principal": "负责人",
    "carer": "保育人员",
    "health": "卫生保健人员",
    "security": "保安",
    "cook": "炊事人员",
    "other": "其他",
}


class StaffMember(Base):
    """One employment of one person at one institution. Leaving (离职) keeps the row and sets
    ``left_on``; a later re-hire of the same person is a new row."""

    __tablename__ = "staff_member"
    __table_args__ = (
        CheckConstraint("role IN ('principal', 'carer', 'health', 'security', 'cook', 'other')", name="role_known"),
        CheckConstraint("left_on IS NULL OR left_on >= hired_on", name="left_after_hired"),
        Index("ix_staff_member_institution_id", "institution_id"),
        Index("ix_staff_member_person_ref", "person_ref"),
        # One active employment per person and institution, also under concurrent requests.
        Index(
            "uq_staff_member_active_person",
            "institution_id",
            "person_ref",
            unique=True,
            postgresql_where=text("left_on IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    name: Mapped[str] = mapped_column(Text)
    person_ref: Mapped[str] = mapped_column(Text)
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    # [{"kind": "保育员证", "number": "…", "expires_on": "2027-06-30" | null}, …]
    certificates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    health_certificate_expires_on: Mapped[date] = mapped_column(Date)
    # [{"hours": 8.0, "date": "2026-03-01", "topic": "婴幼儿急救"}, …]
    training: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    hired_on: Mapped[date] = mapped_column(Date)
    hired_by: Mapped[str] = mapped_column(Text)
    left_on: Mapped[date | None] = mapped_column(Date)
    left_reason: Mapped[str | None] = mapped_column(Text)
    left_recorded_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BannedPerson(Base):
    """Projection of the credit service's industry bans (从业禁止), keyed by ``person_ref``.

    A lifted ban keeps its row with ``lifted_at`` set, so the roster can still say what was lifted
    and when; a ban blocks hiring while ``lifted_at`` is null and ``until`` (if any) is not past.
    """

    __tablename__ = "banned_person"

    person_ref: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    banned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[date | None] = mapped_column(Date)
    cause_event_id: Mapped[str] = mapped_column(Text)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lift_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StaffingStatus(Base):
    """The last staffing evaluation of an institution, so only a change of state emits an event."""

    __tablename__ = "staffing_status"

    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    compliant: Mapped[bool] = mapped_column(Boolean)
    # [{"code": "carer_ratio", "detail": "…", "required": 3, "actual": 1}, …]; [] when compliant
    shortfalls: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
