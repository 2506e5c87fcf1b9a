"""SQL of the pools: the target-pool projection's order-tolerant upserts, inspectors, conflicts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool.models import Inspector, InspectorConflict, TargetGrade, TargetInstitution, TargetStaff
from shared.projection import upsert_newest


async def upsert_profile(session: AsyncSession, *, values: dict[str, Any], at: datetime, filed: bool) -> None:
    """Store a profile unless a newer one (or a later deregistration) is already there."""
    insert = pg_insert(TargetInstitution).values(**values, status="filed", profile_at=at)
    set_: dict[str, Any] = {k: getattr(insert.excluded, k) for k in values if k != "institution_id"}
    set_["profile_at"] = insert.excluded.profile_at
    if filed:
        set_["status"] = "filed"
    stmt = insert.on_conflict_do_update(
        index_elements=[TargetInstitution.institution_id],
        set_=set_,
        where=and_(
            TargetInstitution.profile_at <= insert.excluded.profile_at,
            or_(
                TargetInstitution.deregistered_at.is_(None),
                TargetInstitution.deregistered_at < insert.excluded.profile_at,
            ),
        ),
    )
    await session.execute(stmt)


async def mark_deregistered(session: AsyncSession, institution_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(TargetInstitution)
        .where(TargetInstitution.institution_id == institution_id)
        .values(status="deregistered", deregistered_at=at)
    )


async def upsert_grade_if_newer(
    session: AsyncSession, *, institution_id: uuid.UUID, grade: str, graded_at: datetime, event_id: str
) -> None:
    # a grade computed earlier but delivered later must not replace a newer one
    await upsert_newest(
        session,
        TargetGrade,
        {"institution_id": institution_id, "grade": grade, "graded_at": graded_at, "event_id": event_id},
        newest_by="graded_at",
    )


async def upsert_staff(session: AsyncSession, values: dict[str, Any]) -> None:
    insert = pg_insert(TargetStaff).values(**values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[TargetStaff.staff_id],
            set_={k: getattr(insert.excluded, k) for k in values if k not in {"staff_id", "left_on"}},
        )
    )


async def staff_left(session: AsyncSession, staff_id: uuid.UUID, left_on: date) -> None:
    await session.execute(update(TargetStaff).where(TargetStaff.staff_id == staff_id).values(left_on=left_on))


async def staff_of(session: AsyncSession, institution_id: uuid.UUID) -> Sequence[TargetStaff]:
    return (
        (
            await session.execute(
                select(TargetStaff).where(TargetStaff.institution_id == institution_id).order_by(TargetStaff.name)
            )
        )
        .scalars()
        .all()
    )


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> TargetInstitution | None:
    return await session.get(TargetInstitution, institution_id)


async def grade_of(session: AsyncSession, institution_id: uuid.UUID) -> str | None:
    row = await session.get(TargetGrade, institution_id)
    return row.grade if row else None


async def pool(
    session: AsyncSession, *, districts: Sequence[str] | None, operating_models: Sequence[str] | None = None
) -> Sequence[Any]:
    """Filed institutions (optionally in districts / operating models) with their current grade."""
    stmt = (
        select(TargetInstitution, TargetGrade.grade)
        .outerjoin(TargetGrade, TargetGrade.institution_id == TargetInstitution.institution_id)
        .where(TargetInstitution.status == "filed")
        .order_by(TargetInstitution.institution_id)
    )
    if districts:
        stmt = stmt.where(TargetInstitution.district_code.in_(list(districts)))
    if operating_models:
        stmt = stmt.where(TargetInstitution.operating_model.in_(list(operating_models)))
    return (await session.execute(stmt)).all()


async def add_inspector(session: AsyncSession, inspector: Inspector) -> None:
    session.add(inspector)
    await session.flush()


async def inspector_by_id(session: AsyncSession, inspector_id: uuid.UUID, *, lock: bool = False) -> Inspector | None:
    stmt = select(Inspector).where(Inspector.id == inspector_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def inspector_by_subject(session: AsyncSession, subject: str) -> Inspector | None:
    return (await session.execute(select(Inspector).where(Inspector.subject == subject))).scalar_one_or_none()


async def inspector_by_badge(session: AsyncSession, badge_number: str) -> Inspector | None:
    return (await session.execute(select(Inspector).where(Inspector.badge_number == badge_number))).scalar_one_or_none()


async def inspectors(
    session: AsyncSession, *, district: str | None = None, active: bool | None = None, ids: Sequence[uuid.UUID] = ()
) -> Sequence[Inspector]:
    stmt = select(Inspector).order_by(Inspector.id)
    if district is not None:
        stmt = stmt.where(Inspector.districts.any_() == district)
    if active is not None:
        stmt = stmt.where(Inspector.active.is_(active))
    if ids:
        stmt = stmt.where(Inspector.id.in_(list(ids)))
    return (await session.execute(stmt)).scalars().all()


async def conflict_exists(session: AsyncSession, inspector_id: uuid.UUID, institution_id: uuid.UUID) -> bool:
    stmt = select(InspectorConflict.id).where(
        InspectorConflict.inspector_id == inspector_id, InspectorConflict.institution_id == institution_id
    )
    return (await session.execute(stmt)).first() is not None


async def add_conflict(session: AsyncSession, conflict: InspectorConflict) -> None:
    session.add(conflict)
    await session.flush()


async def conflicts(
    session: AsyncSession, *, inspector_id: uuid.UUID | None = None, institution_ids: Sequence[uuid.UUID] | None = None
) -> Sequence[InspectorConflict]:
    stmt = select(InspectorConflict).order_by(InspectorConflict.declared_at)
    if inspector_id is not None:
        stmt = stmt.where(InspectorConflict.inspector_id == inspector_id)
    if institution_ids is not None:
        stmt = stmt.where(InspectorConflict.institution_id.in_(list(institution_ids)))
    return (await session.execute(stmt)).scalars().all()
