"""Photo evidence of a field task, stored by the SHA-256 of its bytes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base


class TaskEvidence(Base):
    """One photo (or scan) of one task. Content-addressed per task: the same bytes uploaded twice (an
    app retrying on a bad network) are one row, and a finding or violation names it by its hash."""

    __tablename__ = "task_evidence"
    __table_args__ = (CheckConstraint("media_type IN ('image/jpeg', 'image/png')", name="media_type_known"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    media_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
