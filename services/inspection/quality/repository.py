from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.quality.models import QualityAssessment, QualitySchemeUse


async def register_scheme_use(session: AsyncSession, version: str, sha256: str, now: datetime) -> str:
    """The hash stored for this version (this one if it is the first use)."""
    await session.execute(
        pg_insert(QualitySchemeUse)
        .values(version=version, sha256=sha256, first_used_at=now)
        .on_conflict_do_nothing(index_elements=[QualitySchemeUse.version])
    )
    stored = await session.get(QualitySchemeUse, version)
    assert stored is not None
    return stored.sha256


async def add(session: AsyncSession, assessment: QualityAssessment) -> None:
    session.add(assessment)
    await session.flush()


async def get(session: AsyncSession, assessment_id: uuid.UUID) -> QualityAssessment | None:
    return await session.get(QualityAssessment, assessment_id)


async def of_institution(session: AsyncSession, institution_id: uuid.UUID) -> Sequence[QualityAssessment]:
    stmt = (
        select(QualityAssessment)
        .where(QualityAssessment.institution_id == institution_id)
        .order_by(QualityAssessment.assessed_at.desc(), QualityAssessment.id)
    )
    return (await session.execute(stmt)).scalars().all()
