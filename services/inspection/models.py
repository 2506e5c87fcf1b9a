"""Inspection service tables (its own database): the declarative ``Base`` every domain's ``models.py``
(pool, plans, tasks, complaints, quality, unlicensed) registers its tables on, and the service-wide
idempotency records of the mobile API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


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
