from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.models import CreditSubject


async def find_subject(session: AsyncSession, kind: str, subject_id: str) -> CreditSubject | None:
    return (
        await session.execute(
            select(CreditSubject).where(CreditSubject.subject_kind == kind, CreditSubject.subject_id == subject_id)
        )
    ).scalar_one_or_none()


async def insert_subject_if_absent(session: AsyncSession, subject: CreditSubject) -> bool:
    """True if inserted; False if the subject already had a record."""
    result = await session.execute(
        pg_insert(CreditSubject)
        .values(
            id=subject.id,
            subject_kind=subject.subject_kind,
            subject_id=subject.subject_id,
            display_name=subject.display_name,
            district_code=subject.district_code,
            opened_at=subject.opened_at,
            opened_by_event_id=subject.opened_by_event_id,
        )
        .on_conflict_do_nothing(constraint="uq_credit_subject_kind_id")
        .returning(CreditSubject.id)
    )
    return result.first() is not None
