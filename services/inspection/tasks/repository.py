"""SQL of field tasks, findings, violations and published results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.tasks.models import CheckIn, Finding, PublishedResult, Task, TaskMember, Violation


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def get(session: AsyncSession, task_id: uuid.UUID, *, lock: bool = False) -> Task | None:
    stmt = select(Task).where(Task.id == task_id)
    if lock:
        # one writer at a time per task: signatures and the "all signed" transition never race
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def members(session: AsyncSession, task_id: uuid.UUID, *, removed: bool = False) -> Sequence[TaskMember]:
    """The task's current team, in order; ``removed=True``: the members taken off it instead."""
    condition = TaskMember.removed_at.is_not(None) if removed else TaskMember.removed_at.is_(None)
    stmt = select(TaskMember).where(TaskMember.task_id == task_id, condition).order_by(TaskMember.position)
    return (await session.execute(stmt)).scalars().all()


async def member_row(session: AsyncSession, task_id: uuid.UUID, inspector_id: uuid.UUID) -> TaskMember | None:
    """The inspector's membership of the task, current or removed."""
    return await session.get(TaskMember, (task_id, inspector_id))


async def tasks_of_inspector(
    session: AsyncSession,
    inspector_id: uuid.UUID,
    statuses: Sequence[str],
    *,
    institution_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Sequence[Task]:
    """Tasks the inspector is currently on (optionally of one institution), earliest due first."""
    stmt = (
        select(Task)
        .join(TaskMember, TaskMember.task_id == Task.id)
        .where(TaskMember.inspector_id == inspector_id, TaskMember.removed_at.is_(None))
        .order_by(Task.due_by, Task.created_at)
    )
    if statuses:
        stmt = stmt.where(Task.status.in_(list(statuses)))
    if institution_id is not None:
        stmt = stmt.where(Task.institution_id == institution_id)
    if lock:
        stmt = stmt.with_for_update(of=Task)
    return (await session.execute(stmt)).scalars().all()


async def tasks_needing_reassignment(session: AsyncSession) -> Sequence[Task]:
    stmt = select(Task).where(Task.needs_reassignment.is_(True)).order_by(Task.due_by, Task.created_at).limit(500)
    return (await session.execute(stmt)).scalars().all()


async def members_of(session: AsyncSession, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TaskMember]]:
    if not task_ids:
        return {}
    rows = (
        (
            await session.execute(
                select(TaskMember)
                .where(TaskMember.task_id.in_(list(task_ids)), TaskMember.removed_at.is_(None))
                .order_by(TaskMember.position)
            )
        )
        .scalars()
        .all()
    )
    grouped: dict[uuid.UUID, list[TaskMember]] = {}
    for m in rows:
        grouped.setdefault(m.task_id, []).append(m)
    return grouped


async def clear_signatures(session: AsyncSession, task_id: uuid.UUID) -> None:
    await session.execute(update(TaskMember).where(TaskMember.task_id == task_id).values(signed_at=None))


async def checkins(session: AsyncSession, task_id: uuid.UUID) -> Sequence[CheckIn]:
    return (
        (await session.execute(select(CheckIn).where(CheckIn.task_id == task_id).order_by(CheckIn.checked_in_at)))
        .scalars()
        .all()
    )


async def findings(session: AsyncSession, task_id: uuid.UUID) -> Sequence[Finding]:
    return (
        (await session.execute(select(Finding).where(Finding.task_id == task_id).order_by(Finding.item_code)))
        .scalars()
        .all()
    )


async def upsert_finding(session: AsyncSession, values: dict[str, object]) -> None:
    insert = pg_insert(Finding).values(**values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Finding.task_id, Finding.item_code],
            set_={k: getattr(insert.excluded, k) for k in values if k not in {"task_id", "item_code"}},
        )
    )


async def violations(session: AsyncSession, task_id: uuid.UUID) -> Sequence[Violation]:
    return (
        (await session.execute(select(Violation).where(Violation.task_id == task_id).order_by(Violation.recorded_at)))
        .scalars()
        .all()
    )


async def violation(session: AsyncSession, violation_id: uuid.UUID, *, lock: bool = False) -> Violation | None:
    stmt = select(Violation).where(Violation.id == violation_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def overdue_violations(session: AsyncSession, today: date) -> Sequence[Violation]:
    stmt = (
        select(Violation)
        .where(Violation.status == "confirmed", Violation.rectification_due < today)
        .order_by(Violation.rectification_due)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def published(
    session: AsyncSession, *, district: str | None, offset: int, limit: int, institution_id: uuid.UUID | None = None
) -> tuple[Sequence[PublishedResult], int]:
    conditions = [] if district is None else [PublishedResult.district_code == district]
    if institution_id is not None:
        conditions.append(PublishedResult.institution_id == institution_id)
    total = (await session.execute(select(func.count()).select_from(PublishedResult).where(*conditions))).scalar_one()
    rows = (
        (
            await session.execute(
                select(PublishedResult)
                .where(*conditions)
                .order_by(PublishedResult.published_at.desc(), PublishedResult.task_id)
                .offset(offset)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return rows, int(total)


# statuses of a violation the public sees: recorded and dismissed ones were never confirmed
PUBLIC_VIOLATION_STATUSES = ("confirmed", "rectification_reported", "closed", "escalated")


async def public_violations(session: AsyncSession, task_ids: Sequence[uuid.UUID]) -> Sequence[Violation]:
    """The confirmed violations of these published tasks, in the order they were recorded."""
    stmt = (
        select(Violation)
        .where(Violation.task_id.in_(task_ids), Violation.status.in_(PUBLIC_VIOLATION_STATUSES))
        .order_by(Violation.task_id, Violation.recorded_at, Violation.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def violations_by_id(session: AsyncSession, violation_ids: Sequence[uuid.UUID]) -> Sequence[Violation]:
    return (await session.execute(select(Violation).where(Violation.id.in_(violation_ids)))).scalars().all()


async def published_follow_ups(
    session: AsyncSession, violation_ids: Sequence[uuid.UUID]
) -> Sequence[tuple[uuid.UUID, uuid.UUID, date]]:
    """(violation id, follow-up task id, inspected on) of the published follow-ups of these violations."""
    stmt = (
        select(Task.follow_up_of, Task.id, PublishedResult.inspected_on)
        .join(PublishedResult, PublishedResult.task_id == Task.id)
        .where(Task.follow_up_of.in_(violation_ids))
        .order_by(PublishedResult.inspected_on, Task.id)
    )
    return [(v, t, d) for v, t, d in (await session.execute(stmt)).all() if v is not None]


async def follow_up_targets(session: AsyncSession, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Task id -> the violation it follows up, for those of ``task_ids`` that are follow-ups."""
    stmt = select(Task.id, Task.follow_up_of).where(Task.id.in_(task_ids), Task.follow_up_of.is_not(None))
    return {t: v for t, v in (await session.execute(stmt)).all() if v is not None}


async def unpublished_overdue(session: AsyncSession, today: date) -> int:
    stmt = select(func.count()).select_from(Task).where(Task.status == "submitted", Task.publication_due < today)
    return int((await session.execute(stmt)).scalar_one())
