"""SQL of unlicensed-operator cases and their guidance steps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool.models import TargetInstitution
from services.inspection.unlicensed.models import GuidanceStepRow, UnlicensedCase


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def get(session: AsyncSession, case_id: uuid.UUID, *, lock: bool = False) -> UnlicensedCase | None:
    stmt = select(UnlicensedCase).where(UnlicensedCase.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def steps(session: AsyncSession, case_id: uuid.UUID) -> Sequence[GuidanceStepRow]:
    stmt = select(GuidanceStepRow).where(GuidanceStepRow.case_id == case_id).order_by(GuidanceStepRow.position)
    return (await session.execute(stmt)).scalars().all()


async def delete_step(session: AsyncSession, step: GuidanceStepRow) -> None:
    await session.delete(step)
    await session.flush()


async def cases(
    session: AsyncSession, *, district: str | None, status: str | None, offset: int, limit: int
) -> tuple[Sequence[UnlicensedCase], int]:
    conditions = []
    if district is not None:
        conditions.append(UnlicensedCase.district_code == district)
    if status is not None:
        conditions.append(UnlicensedCase.status == status)
    total = (await session.execute(select(func.count()).select_from(UnlicensedCase).where(*conditions))).scalar_one()
    rows = (
        await session.execute(
            select(UnlicensedCase)
            .where(*conditions)
            .order_by(UnlicensedCase.opened_at.desc(), UnlicensedCase.id)
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return rows.all(), int(total)


async def open_matching(
    session: AsyncSession, *, uscc: str, name_key: str, address_key: str, district_code: str
) -> Sequence[UnlicensedCase]:
    """Open cases naming this USCC, or this name and address in this district (locked)."""
    stmt = (
        select(UnlicensedCase)
        .where(
            UnlicensedCase.status == "open",
            or_(
                UnlicensedCase.uscc == uscc,
                (UnlicensedCase.district_code == district_code)
                & (func.regexp_replace(UnlicensedCase.operator_name, r"\s", "", "g") == name_key)
                & (func.regexp_replace(UnlicensedCase.address, r"\s", "", "g") == address_key),
            ),
        )
        .order_by(UnlicensedCase.opened_at)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def filed_match(
    session: AsyncSession, *, uscc: str | None, name_key: str | None, address_key: str | None, district_code: str
) -> TargetInstitution | None:
    """A filed institution in the target pool with this identity (the filing may arrive first)."""
    conditions = []
    if uscc:
        conditions.append(TargetInstitution.uscc == uscc)
    if name_key and address_key:
        conditions.append(
            (TargetInstitution.district_code == district_code)
            & (func.regexp_replace(TargetInstitution.name, r"\s", "", "g") == name_key)
            & (func.regexp_replace(TargetInstitution.address, r"\s", "", "g") == address_key)
        )
    if not conditions:
        return None
    stmt = (
        select(TargetInstitution)
        .where(TargetInstitution.status == "filed", or_(*conditions))
        .order_by(TargetInstitution.profile_at)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def overdue_steps(session: AsyncSession, today: date) -> int:
    stmt = (
        select(func.count())
        .select_from(GuidanceStepRow)
        .join(UnlicensedCase, UnlicensedCase.id == GuidanceStepRow.case_id)
        .where(GuidanceStepRow.completed_at.is_(None), GuidanceStepRow.due_on < today, UnlicensedCase.status == "open")
    )
    return int((await session.execute(stmt)).scalar_one())


async def open_counts_by_district(session: AsyncSession) -> dict[str, int]:
    stmt = (
        select(UnlicensedCase.district_code, func.count())
        .where(UnlicensedCase.status == "open")
        .group_by(UnlicensedCase.district_code)
    )
    return {d: int(n) for d, n in (await session.execute(stmt)).all()}
