from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.models import Institution


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    return await session.get(Institution, institution_id)


async def uscc_exists(session: AsyncSession, uscc: str) -> bool:
    return (await session.execute(select(Institution.id).where(Institution.uscc == uscc))).first() is not None


async def add_institution(session: AsyncSession, institution: Institution) -> None:
    session.add(institution)
    await session.flush()
