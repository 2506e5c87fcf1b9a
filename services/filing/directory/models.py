"""The public directory's projections of other services' facts, built from their events.

Keyed by institution id without a foreign key to ``institution``: a projection only mirrors what the
credit and inspection services said, and must accept their events in any order relative to filing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, Float, Index, Integer, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from services.filing.models import Base, Institution
from shared.grades import grade_known


class DirectoryCreditGrade(Base):
    """The newest credit grade (by ``graded_at``) the credit service published per institution."""

    __tablename__ = "directory_credit_grade"
    __table_args__ = (CheckConstraint(grade_known(), name="grade_known"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    policy_version: Mapped[str] = mapped_column(Text)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DirectoryInspectionResult(Base):
    """The newest published inspection result (by ``published_at``) per institution (一公开)."""

    __tablename__ = "directory_inspection_result"
    __table_args__ = (
        CheckConstraint(
            "conclusion IN ('compliant', 'rectification_required', 'non_compliant')", name="conclusion_known"
        ),
    )

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column()
    conclusion: Mapped[str] = mapped_column(Text)
    violation_count: Mapped[int] = mapped_column(Integer)
    summary_zh: Mapped[str] = mapped_column(Text)
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DirectoryQualityGrade(Base):
    """The newest on-site quality assessment (by ``assessed_at``) per institution (质量评估等级).
    Self-assessments are not shown: the directory shows what assessors found."""

    __tablename__ = "directory_quality_grade"
    __table_args__ = (CheckConstraint(grade_known(), name="grade_known"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column()
    grade: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    veto_failed: Mapped[bool] = mapped_column(Boolean)
    scheme_version: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reassess_by: Mapped[date] = mapped_column(Date)
    event_id: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DirectoryPuhuiSuspension(Base):
    """普惠 status suspended while the institution is on the serious-dishonesty list (严重失信主体名单),
    from credit's list events (entered/left); one row per institution, the newest change (by
    ``changed_at``: ``entered_at``, or ``left_at`` once left) wins, so late or repeated events are
    harmless. In effect while ``left_at`` is null. The reason and legal basis are the list's, from
    the credit policy file (policies/v*.yaml ``lists.serious_dishonesty``) as the event carries them."""

    __tablename__ = "directory_puhui_suspension"

    institution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The "near" search narrows filed institutions by a latitude/longitude box before the exact
# great-circle test; this index serves that box. It lives on the institution table, so it is
# declared here (the directory is its only user) and created by the directory's migration.
ix_institution_filed_location = Index(
    "ix_institution_filed_location",
    Institution.latitude,
    Institution.longitude,
    postgresql_where=text("status = 'filed'"),
)

# The name search (q=) matches a substring (ILIKE '%…%'): a trigram index (pg_trgm, created by the
# same migration) serves it, again only over filed institutions.
ix_institution_filed_name_trgm = Index(
    "ix_institution_filed_name_trgm",
    Institution.name,
    postgresql_using="gin",
    postgresql_ops={"name": "gin_trgm_ops"},
    postgresql_where=text("status = 'filed'"),
)
