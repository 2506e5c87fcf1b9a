"""Complaints (投诉) and the token buckets that limit the public endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base


class Complaint(Base):
    """A public complaint. The receipt code is stored only as its SHA-256 (a leaked table does not
    hand out receipts); the optional contact only AES-GCM encrypted; the client IP not at all.
    ``status``: received → investigating | referred | closed."""

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint("status IN ('received', 'investigating', 'referred', 'closed')", name="status_known"),
        CheckConstraint("institution_id IS NOT NULL OR address IS NOT NULL", name="about_something"),
        Index("ix_complaint_district", "district_code", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    receipt_sha256: Mapped[str] = mapped_column(Text, unique=True)
    institution_id: Mapped[uuid.UUID | None] = mapped_column()
    institution_name: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    operator_name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str | None] = mapped_column(Text)
    triage_reason: Mapped[str | None] = mapped_column(Text)  # internal, never public
    public_reply: Mapped[str | None] = mapped_column(Text)
    referred_to: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    case_id: Mapped[uuid.UUID | None] = mapped_column()
    triaged_by: Mapped[str | None] = mapped_column(Text)
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateBucket(Base):
    """A token bucket per key ("complaint:ip:<hash>", "complaint:global", …), shared by replicas."""

    __tablename__ = "rate_bucket"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
