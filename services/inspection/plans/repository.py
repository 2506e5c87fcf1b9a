"""SQL of plans and draws."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.plans.models import Plan, PlanObserver
from services.inspection.tasks.models import Task, TaskMember


async def add(session: AsyncSession, plan: Plan) -> None:
    session.add(plan)
    await session.flush()


async def get(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False) -> Plan | None:
    stmt = select(Plan).where(Plan.id == plan_id)
    if lock:
        # serialises commit and draw of one plan: a second draw waits, then sees "drawn"
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def draw_state_of(session: AsyncSession, plan_id: uuid.UUID) -> tuple[str, dict[str, Any] | None] | None:
    """A plan's status and the beacon it named at its commit, read as values (no entity, no lock);
    None if there is no such plan."""
    row = (await session.execute(select(Plan.status, Plan.beacon).where(Plan.id == plan_id))).one_or_none()
    return None if row is None else (row.status, row.beacon)


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    return (await session.execute(select(Plan).order_by(Plan.created_at.desc()))).scalars().all()


async def previous_teams(session: AsyncSession, institution_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Per institution, the team of its latest random (drawn) inspection: rotation excludes them."""
    if not institution_ids:
        return {}
    ranked = (
        select(
            Task.id,
            func.row_number().over(partition_by=Task.institution_id, order_by=Task.created_at.desc()).label("n"),
        )
        .where(Task.kind == "random", Task.institution_id.in_(list(institution_ids)))
        .subquery()
    )
    rows = (
        await session.execute(
            select(Task.institution_id, TaskMember.inspector_id)
            .join(TaskMember, TaskMember.task_id == Task.id)
            .where(Task.id.in_(select(ranked.c.id).where(ranked.c.n == 1)))
        )
    ).all()
    teams: dict[uuid.UUID, list[str]] = {}
    for institution_id, inspector_id in rows:
        teams.setdefault(institution_id, []).append(str(inspector_id))
    return teams


async def tasks_of_plan(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[Task]:
    return (await session.execute(select(Task).where(Task.plan_id == plan_id))).scalars().all()


async def observers_of(session: AsyncSession, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[PlanObserver]]:
    """Each plan's observers, by id (the order of the published record)."""
    if not plan_ids:
        return {}
    rows = (
        await session.execute(
            select(PlanObserver).where(PlanObserver.plan_id.in_(list(plan_ids))).order_by(PlanObserver.id)
        )
    ).scalars()
    out: dict[uuid.UUID, list[PlanObserver]] = {p: [] for p in plan_ids}
    for o in rows:
        out[o.plan_id].append(o)
    return out


async def observer(session: AsyncSession, plan_id: uuid.UUID, observer_id: uuid.UUID) -> PlanObserver | None:
    stmt = select(PlanObserver).where(PlanObserver.plan_id == plan_id, PlanObserver.id == observer_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def public_plans(session: AsyncSession) -> Sequence[Plan]:
    """Committed and drawn plans, newest first (drafts are not public)."""
    stmt = select(Plan).where(Plan.status.in_(["committed", "drawn"])).order_by(Plan.committed_at.desc())
    return (await session.execute(stmt)).scalars().all()
