"""SQL of the staff roster. No commits: the caller's unit of work owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, Date, Text, Uuid, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.models import Institution
from services.filing.staff.models import BannedPerson, StaffingStatus, StaffMember


async def get_institution(
    session: AsyncSession, institution_id: uuid.UUID, *, lock: bool = False
) -> Institution | None:
    # Roster changes lock the institution row: two concurrent hires then evaluate staffing one after
    # the other, and the institution's events enter the outbox in the order they happened.
    if not lock:
        return await session.get(Institution, institution_id)
    return await session.get(Institution, institution_id, with_for_update=True, populate_existing=True)


# The hire's look-ups and insert, for all the people of a roster at once: statements built once (the
# person refs travel as one array parameter, so a roster of any size is the same prepared statement).
_person_refs = bindparam("person_refs", type_=ARRAY(Text))
_ACTIVE_BANS = select(BannedPerson).where(
    BannedPerson.person_ref == func.any(_person_refs),
    BannedPerson.lifted_at.is_(None),
    or_(BannedPerson.until.is_(None), BannedPerson.until >= bindparam("today", type_=Date)),
)
_ACTIVELY_EMPLOYED = select(StaffMember.person_ref).where(
    StaffMember.institution_id == bindparam("institution_id", type_=Uuid),
    StaffMember.person_ref == func.any(_person_refs),
    StaffMember.left_on.is_(None),
)
_STAFF: Any = StaffMember.__table__
# every column a hire sets: not the two the database fills in, nor those of leaving
HIRED_COLUMNS: tuple[str, ...] = tuple(
    c.key
    for c in _STAFF.columns
    if c.key not in {"created_at", "updated_at", "left_on", "left_reason", "left_recorded_by"}
)
# A person already actively employed here (uq_staff_member_active_person), also by a concurrent
# transaction that commits first (ON CONFLICT waits for it), is not inserted and returns no id.
_INSERT_STAFF_UNLESS_EMPLOYED = (
    pg_insert(_STAFF)
    .values({key: bindparam(key, type_=_STAFF.c[key].type) for key in HIRED_COLUMNS})
    .on_conflict_do_nothing(
        index_elements=[_STAFF.c.institution_id, _STAFF.c.person_ref], index_where=_STAFF.c.left_on.is_(None)
    )
    .returning(_STAFF.c.id)
)


async def active_bans(session: AsyncSession, person_refs: Sequence[str], today: date) -> dict[str, BannedPerson]:
    """The bans in force ``today`` among these persons, by person_ref."""
    rows = await session.execute(_ACTIVE_BANS, {"person_refs": list(person_refs), "today": today})
    return {ban.person_ref: ban for ban in rows.scalars()}


async def actively_employed(session: AsyncSession, institution_id: uuid.UUID, person_refs: Sequence[str]) -> set[str]:
    """Which of these persons the institution employs now."""
    rows = await session.execute(
        _ACTIVELY_EMPLOYED, {"institution_id": institution_id, "person_refs": list(person_refs)}
    )
    return set(rows.scalars())


async def insert_staff_unless_employed(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the staff rows (``HIRED_COLUMNS`` each) in one statement; returns the ids inserted,
    which leaves out every person already actively employed at the row's institution."""
    if not rows:
        return set()
    result = await session.execute(_INSERT_STAFF_UNLESS_EMPLOYED, list(rows))
    return set(result.scalars())


async def get_staff(
    session: AsyncSession, institution_id: uuid.UUID, staff_id: uuid.UUID, *, lock: bool = False
) -> StaffMember | None:
    query = select(StaffMember).where(StaffMember.id == staff_id, StaffMember.institution_id == institution_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_staff(session: AsyncSession, institution_id: uuid.UUID, *, include_left: bool) -> Sequence[StaffMember]:
    query = select(StaffMember).where(StaffMember.institution_id == institution_id)
    if not include_left:
        query = query.where(StaffMember.left_on.is_(None))
    query = query.order_by(StaffMember.left_on.is_not(None), StaffMember.hired_on, StaffMember.created_at)
    return (await session.execute(query)).scalars().all()


async def active_role_counts(session: AsyncSession, institution_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(StaffMember.role, func.count())
        .where(StaffMember.institution_id == institution_id, StaffMember.left_on.is_(None))
        .group_by(StaffMember.role)
    )
    return {str(role): int(count) for role, count in rows}


async def get_staffing_status(session: AsyncSession, institution_id: uuid.UUID) -> StaffingStatus | None:
    return await session.get(StaffingStatus, institution_id)


async def save_staffing_status(session: AsyncSession, status: StaffingStatus) -> None:
    session.add(status)
    await session.flush()


async def upsert_ban(
    session: AsyncSession,
    *,
    person_ref: str,
    reason: str,
    legal_basis: str,
    banned_at: datetime,
    until: date | None,
    cause_event_id: str,
) -> None:
    """Record (or renew) a ban. A ban older than the one recorded, or than a lift already recorded,
    changes nothing."""
    statement = pg_insert(BannedPerson).values(
        person_ref=person_ref,
        reason=reason,
        legal_basis=legal_basis,
        banned_at=banned_at,
        until=until,
        cause_event_id=cause_event_id,
        lifted_at=None,
        lift_reason=None,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[BannedPerson.person_ref],
            set_={
                "reason": excluded.reason,
                "legal_basis": excluded.legal_basis,
                "banned_at": excluded.banned_at,
                "until": excluded.until,
                "cause_event_id": excluded.cause_event_id,
                "lifted_at": None,
                "lift_reason": None,
                "updated_at": func.now(),
            },
            # Kafka keeps one person's events in order; this guards replays and re-sent old bans.
            where=and_(
                BannedPerson.banned_at <= excluded.banned_at,
                or_(BannedPerson.lifted_at.is_(None), BannedPerson.lifted_at <= excluded.banned_at),
            ),
        )
    )


async def lift_ban(session: AsyncSession, *, person_ref: str, lifted_at: datetime, reason: str) -> None:
    """Mark a ban lifted; a lift dated before the ban currently recorded (an older ban's) changes nothing."""
    await session.execute(
        update(BannedPerson)
        .where(BannedPerson.person_ref == person_ref, BannedPerson.banned_at <= lifted_at)
        .values(lifted_at=lifted_at, lift_reason=reason, updated_at=func.now())
    )
