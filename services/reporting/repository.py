from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import LedgerEntry, LedgerHead


async def next_index(session: AsyncSession) -> int:
    statement = update(LedgerHead).where(LedgerHead.id == 1).values(size=LedgerHead.size + 1)
    size = (await session.execute(statement.returning(LedgerHead.size))).scalar_one()
    return int(size) - 1


async def tree_size(session: AsyncSession) -> int:
    return int((await session.execute(select(LedgerHead.size).where(LedgerHead.id == 1))).scalar_one())


async def add_entry(session: AsyncSession, entry: LedgerEntry) -> None:
    session.add(entry)
    await session.flush()


async def entries_after(session: AsyncSession, after: int, limit: int) -> Sequence[LedgerEntry]:
    return (
        (
            await session.execute(
                select(LedgerEntry).where(LedgerEntry.index > after).order_by(LedgerEntry.index).limit(limit)
            )
        )
        .scalars()
        .all()
    )
