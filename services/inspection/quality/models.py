"""Quality assessments (质量评估, WS/T 821) and the scheme versions they were scored under."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, Float, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base
from shared.grades import grade_known


class QualitySchemeUse(Base):
    """The content hash of a scheme version when first used: a version whose file later differs is
    refused (a scheme version means one thing forever; changes need a new version)."""

    __tablename__ = "quality_scheme_use"

    version: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QualityAssessment(Base):
    __tablename__ = "quality_assessment"
    __table_args__ = (
        CheckConstraint("kind IN ('self', 'onsite')", name="kind_known"),
        CheckConstraint(grade_known(), name="grade_known"),
        Index("ix_quality_assessment_institution", "institution_id", "assessed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column()
    district_code: Mapped[str] = mapped_column(Text)
    scheme_version: Mapped[str] = mapped_column(Text)
    scheme_sha256: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(Text)
    veto_failed: Mapped[bool] = mapped_column(Boolean)
    veto_failed_items: Mapped[list[str]] = mapped_column(ARRAY(Text))
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    assessed_by: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reassess_by: Mapped[date] = mapped_column(Date)
