"""SQL of the credit service."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import and_, bindparam, case, delete, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.models import (
    CreditEntry,
    CreditEvidence,
    CreditGradeHistory,
    CreditListMembership,
    CreditPolicyActivation,
    CreditRepair,
    CreditStanding,
    CreditSubject,
)

# --- read-ahead for a batch of evaluations -----------------------------------------------------------
# The consumer re-evaluates every subject a fetched batch touched, at the end of the batch. Instead
# of six reads per subject, ``prefetch`` reads each kind of row for all of them with one statement
# (the subjects locked in key order, as ``list_subject_keys`` does) and the per-subject reads below
# take their rows from it, each at most once: after a subject's first read the database answers
# again, so nothing written later in the transaction is hidden.

_PREFETCH = "credit.prefetch"
_MISSING: Any = object()
Key = tuple[str, str]
Reader = TypeVar("Reader", bound=Callable[..., Awaitable[Any]])


async def prefetch(session: AsyncSession, keys: Sequence[Key]) -> None:
    wanted = sorted(set(keys))
    cache: dict[tuple[str, str, str], Any] = {}
    if wanted:
        subjects = (
            (
                await session.execute(
                    select(CreditSubject)
                    .where(tuple_(CreditSubject.subject_kind, CreditSubject.subject_id).in_(wanted))
                    .order_by(CreditSubject.subject_kind, CreditSubject.subject_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
            .scalars()
            .all()
        )
        by_key: dict[Key, Any] = {(r.subject_kind, r.subject_id): r for r in subjects}
        for key in wanted:
            cache[("subject", *key)] = by_key.get(key)
        for what, model, order in (
            ("entries", CreditEntry, (CreditEntry.effective_from, CreditEntry.id)),
            ("repairs", CreditRepair, (CreditRepair.applied_at, CreditRepair.id)),
            ("history", CreditGradeHistory, (CreditGradeHistory.id,)),
            (
                "memberships",
                CreditListMembership,
                (CreditListMembership.entered_at, CreditListMembership.list_name, CreditListMembership.id),
            ),
        ):
            grouped: dict[Key, list[Any]] = {key: [] for key in wanted}
            m: Any = model
            rows = await session.execute(
                select(model).where(tuple_(m.subject_kind, m.subject_id).in_(wanted)).order_by(*order)
            )
            for row in rows.scalars():
                found_row: Any = row
                grouped[(found_row.subject_kind, found_row.subject_id)].append(found_row)
            for key, found in grouped.items():
                cache[(what, *key)] = found
        standings = await session.execute(
            select(CreditStanding).where(tuple_(CreditStanding.subject_kind, CreditStanding.subject_id).in_(wanted))
        )
        found_standing = {(r.subject_kind, r.subject_id): r for r in standings.scalars()}
        for key in wanted:
            cache[("standing", *key)] = found_standing.get(key)
    cache[("activations", "", "")] = await _read_activations(session)
    session.info[_PREFETCH] = cache


def forget_prefetch(session: AsyncSession) -> None:
    session.info.pop(_PREFETCH, None)


def _prefetchable(what: str) -> Callable[[Reader], Reader]:
    """A per-subject read that answers from the batch's read-ahead when it holds the subject."""

    def wrap(read: Reader) -> Reader:
        @functools.wraps(read)
        async def reader(session: AsyncSession, kind: str, subject_id: str) -> Any:
            cached = _prefetched(session, what, kind, subject_id)
            return cached if cached is not _MISSING else await read(session, kind, subject_id)

        return cast(Reader, reader)

    return wrap


def _prefetched(session: AsyncSession, what: str, kind: str, subject_id: str) -> Any:
    cache = session.info.get(_PREFETCH)
    if cache is None:
        return _MISSING
    if what == "activations":  # the same for every subject; nothing in the batch's end changes it
        return cache.get((what, kind, subject_id), _MISSING)
    return cache.pop((what, kind, subject_id), _MISSING)


async def find_subject(session: AsyncSession, kind: str, subject_id: str) -> CreditSubject | None:
    return (
        await session.execute(
            select(CreditSubject).where(CreditSubject.subject_kind == kind, CreditSubject.subject_id == subject_id)
        )
    ).scalar_one_or_none()


@_prefetchable("subject")
async def lock_subject(session: AsyncSession, kind: str, subject_id: str) -> CreditSubject | None:
    """The subject row, locked: one evaluation of a subject at a time (consumer, job, API)."""
    return (
        await session.execute(
            select(CreditSubject)
            .where(CreditSubject.subject_kind == kind, CreditSubject.subject_id == subject_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


SUBJECT_COLUMNS = (
    "id",
    "subject_kind",
    "subject_id",
    "display_name",
    "district_code",
    "opened_at",
    "opened_by_event_id",
    "profile_at",
)


async def upsert_subjects(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[Key]:
    """Insert each subject, or fold the row into it; returns the (kind, id) of those inserted.

    One statement for all rows (at most one row per subject: a second one would make PostgreSQL
    update the same row twice). The result does not depend on arrival order: the opening event is
    the earliest by its own time (ties: smallest id), and the name/district come from the newest
    filing event that carried them — ``fold_subject`` applies the same rule to rows before they are
    sent, so folding in Python first and in SQL second ends where folding each event in SQL would."""
    if not rows:
        return set()
    result = await session.execute(_UPSERT_SUBJECT, list(rows))
    return {(str(r[0]), str(r[1])) for r in result if r[2]}


def fold_subject(current: dict[str, Any], later: dict[str, Any]) -> None:
    """Fold ``later`` (an event applied after ``current``) into ``current``, exactly as the
    upsert's ON CONFLICT clause folds a row into the stored one."""
    if (later["opened_at"], later["opened_by_event_id"]) < (current["opened_at"], current["opened_by_event_id"]):
        current["opened_at"] = later["opened_at"]
        current["opened_by_event_id"] = later["opened_by_event_id"]
    newer, held = later["profile_at"], current["profile_at"]
    if newer is not None and (held is None or newer >= held):
        current["display_name"] = later["display_name"]
        current["district_code"] = later["district_code"]
        current["profile_at"] = later["profile_at"]


def _upsert_subject_statement() -> Any:
    """Built once: constructing it costs more CPU than running it. Executed with a list of rows,
    SQLAlchemy sends them as one multi-row INSERT (``insertmanyvalues``) from the cached compile."""
    table: Any = CreditSubject.__table__
    ins = pg_insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in SUBJECT_COLUMNS})
    ex = ins.excluded
    earlier = or_(
        ex.opened_at < table.c.opened_at,
        and_(ex.opened_at == table.c.opened_at, ex.opened_by_event_id < table.c.opened_by_event_id),
    )
    newer_profile = and_(
        ex.profile_at.is_not(None), or_(table.c.profile_at.is_(None), ex.profile_at >= table.c.profile_at)
    )
    return ins.on_conflict_do_update(
        constraint="uq_credit_subject_kind_id",
        set_={
            "opened_at": case((earlier, ex.opened_at), else_=table.c.opened_at),
            "opened_by_event_id": case((earlier, ex.opened_by_event_id), else_=table.c.opened_by_event_id),
            "display_name": case((newer_profile, ex.display_name), else_=table.c.display_name),
            "district_code": case((newer_profile, ex.district_code), else_=table.c.district_code),
            "profile_at": case((newer_profile, ex.profile_at), else_=table.c.profile_at),
        },
    ).returning(table.c.subject_kind, table.c.subject_id, literal_column("(xmax = 0)"))


_UPSERT_SUBJECT = _upsert_subject_statement()


async def mark_deregistered(session: AsyncSession, kind: str, subject_id: str, at: datetime) -> None:
    await session.execute(
        update(CreditSubject)
        .where(CreditSubject.subject_kind == kind, CreditSubject.subject_id == subject_id)
        .values(deregistered_at=func.least(func.coalesce(CreditSubject.deregistered_at, at), at))
    )


async def list_subject_keys(
    session: AsyncSession, *, after: tuple[str, str] | None, limit: int
) -> list[tuple[str, str]]:
    stmt = select(CreditSubject.subject_kind, CreditSubject.subject_id).order_by(
        CreditSubject.subject_kind, CreditSubject.subject_id
    )
    if after is not None:
        stmt = stmt.where(
            or_(
                CreditSubject.subject_kind > after[0],
                and_(CreditSubject.subject_kind == after[0], CreditSubject.subject_id > after[1]),
            )
        )
    rows = (await session.execute(stmt.limit(limit))).all()
    return [(r[0], r[1]) for r in rows]


_ENTRY_TABLE: Any = CreditEntry.__table__
# Built once (one per entry recorded): the values travel as bind parameters.
_INSERT_ENTRY = (
    pg_insert(_ENTRY_TABLE)
    .values({c.name: bindparam(c.name, type_=c.type) for c in _ENTRY_TABLE.columns})
    .on_conflict_do_nothing(constraint="uq_credit_entry_source")
)


def entry_row(entry: CreditEntry) -> dict[str, Any]:
    return {c.name: getattr(entry, c.key) for c in _ENTRY_TABLE.columns}


async def insert_entries_if_absent(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany for all rows; an entry already recorded (same subject, rule and source fact)
    is left as it is."""
    if rows:
        await session.execute(_INSERT_ENTRY, list(rows))


@_prefetchable("entries")
async def entries_of(session: AsyncSession, kind: str, subject_id: str) -> Sequence[CreditEntry]:
    return (
        (
            await session.execute(
                select(CreditEntry)
                .where(CreditEntry.subject_kind == kind, CreditEntry.subject_id == subject_id)
                .order_by(CreditEntry.effective_from, CreditEntry.id)
            )
        )
        .scalars()
        .all()
    )


async def find_entry(session: AsyncSession, entry_id: uuid.UUID) -> CreditEntry | None:
    return await session.get(CreditEntry, entry_id)


@_prefetchable("repairs")
async def repairs_of(session: AsyncSession, kind: str, subject_id: str) -> Sequence[CreditRepair]:
    return (
        (
            await session.execute(
                select(CreditRepair)
                .where(CreditRepair.subject_kind == kind, CreditRepair.subject_id == subject_id)
                .order_by(CreditRepair.applied_at, CreditRepair.id)
            )
        )
        .scalars()
        .all()
    )


async def active_repair_for_entry(session: AsyncSession, entry_id: uuid.UUID) -> CreditRepair | None:
    return (
        await session.execute(
            select(CreditRepair).where(
                CreditRepair.entry_id == entry_id, CreditRepair.status.in_(("pending", "approved"))
            )
        )
    ).scalar_one_or_none()


async def store_evidence(session: AsyncSession, evidence: CreditEvidence) -> None:
    """Store an entry's evidence document; the same bytes uploaded again for the entry change nothing."""
    values = {c.name: getattr(evidence, c.name) for c in CreditEvidence.__table__.columns}
    await session.execute(pg_insert(CreditEvidence).values(**values).on_conflict_do_nothing())


async def evidence_of(session: AsyncSession, entry_id: uuid.UUID, sha256: str) -> CreditEvidence | None:
    return await session.get(CreditEvidence, (entry_id, sha256))


async def uploaded_evidence(session: AsyncSession, entry_id: uuid.UUID, digests: Sequence[str]) -> set[str]:
    """Which of ``digests`` were uploaded for the entry."""
    if not digests:
        return set()
    stmt = select(CreditEvidence.sha256).where(
        CreditEvidence.entry_id == entry_id, CreditEvidence.sha256.in_(list(digests))
    )
    return set((await session.execute(stmt)).scalars().all())


async def rectified(session: AsyncSession, rule_id: str, source_key: str) -> bool:
    """Whether the fact ``source_key`` (a violation) has an entry of ``rule_id`` (its verified rectification)."""
    stmt = select(CreditEntry.id).where(CreditEntry.rule_id == rule_id, CreditEntry.source_key == source_key).limit(1)
    return (await session.execute(stmt)).first() is not None


async def lock_repair(session: AsyncSession, repair_id: uuid.UUID) -> CreditRepair | None:
    return (
        await session.execute(select(CreditRepair).where(CreditRepair.id == repair_id).with_for_update())
    ).scalar_one_or_none()


async def find_repair(session: AsyncSession, repair_id: uuid.UUID) -> CreditRepair | None:
    return await session.get(CreditRepair, repair_id)


@_prefetchable("standing")
async def standing_of(session: AsyncSession, kind: str, subject_id: str) -> CreditStanding | None:
    return (
        await session.execute(
            select(CreditStanding).where(CreditStanding.subject_kind == kind, CreditStanding.subject_id == subject_id)
        )
    ).scalar_one_or_none()


@_prefetchable("history")
async def history_of(session: AsyncSession, kind: str, subject_id: str) -> Sequence[CreditGradeHistory]:
    return (
        (
            await session.execute(
                select(CreditGradeHistory)
                .where(CreditGradeHistory.subject_kind == kind, CreditGradeHistory.subject_id == subject_id)
                .order_by(CreditGradeHistory.id)
            )
        )
        .scalars()
        .all()
    )


@_prefetchable("memberships")
async def memberships_of(session: AsyncSession, kind: str, subject_id: str) -> Sequence[CreditListMembership]:
    """Every stay, past and current."""
    return (
        (
            await session.execute(
                select(CreditListMembership)
                .where(CreditListMembership.subject_kind == kind, CreditListMembership.subject_id == subject_id)
                .order_by(CreditListMembership.entered_at, CreditListMembership.list_name, CreditListMembership.id)
            )
        )
        .scalars()
        .all()
    )


async def delete_memberships(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.execute(
            delete(CreditListMembership)
            .where(CreditListMembership.id.in_(ids))
            .execution_options(synchronize_session="fetch")
        )


async def delete_history(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.execute(
            delete(CreditGradeHistory)
            .where(CreditGradeHistory.id.in_(ids))
            .execution_options(synchronize_session="fetch")
        )


async def current_memberships_of(session: AsyncSession, kind: str, subject_id: str) -> Sequence[CreditListMembership]:
    return (
        (
            await session.execute(
                select(CreditListMembership)
                .where(
                    CreditListMembership.subject_kind == kind,
                    CreditListMembership.subject_id == subject_id,
                    CreditListMembership.left_at.is_(None),
                )
                .order_by(CreditListMembership.list_name)
            )
        )
        .scalars()
        .all()
    )


async def current_members(session: AsyncSession, list_name: str) -> Sequence[CreditListMembership]:
    return (
        (
            await session.execute(
                select(CreditListMembership)
                .where(CreditListMembership.list_name == list_name, CreditListMembership.left_at.is_(None))
                .order_by(CreditListMembership.entered_at, CreditListMembership.subject_id)
            )
        )
        .scalars()
        .all()
    )


async def activations(session: AsyncSession) -> Sequence[CreditPolicyActivation]:
    cached = _prefetched(session, "activations", "", "")
    if cached is not _MISSING:
        return cached
    return await _read_activations(session)


async def _read_activations(session: AsyncSession) -> Sequence[CreditPolicyActivation]:
    """Every activation, oldest first by its own time (a replay may insert them in another id order)."""
    return (
        (
            await session.execute(
                select(CreditPolicyActivation).order_by(CreditPolicyActivation.activated_at, CreditPolicyActivation.id)
            )
        )
        .scalars()
        .all()
    )


async def find_activation(session: AsyncSession, version: str, activated_at: datetime) -> CreditPolicyActivation | None:
    return (
        await session.execute(
            select(CreditPolicyActivation)
            .where(CreditPolicyActivation.version == version, CreditPolicyActivation.activated_at == activated_at)
            .limit(1)
        )
    ).scalar_one_or_none()


async def lock_activations(session: AsyncSession) -> None:
    """Serialise policy activations (a table lock that readers do not wait for)."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("credit_policy_activation"))).execution_options()
    )


async def display_names(session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not keys:
        return {}
    rows = await session.execute(
        select(CreditSubject.subject_kind, CreditSubject.subject_id, CreditSubject.display_name).where(
            tuple_(CreditSubject.subject_kind, CreditSubject.subject_id).in_(keys),
            CreditSubject.display_name.is_not(None),
        )
    )
    return {(r[0], r[1]): r[2] for r in rows if r[2] is not None}
