"""SQL of the projections: order-tolerant upserts (consumer side) and the reads of the statistics
and the institution summary."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from services.reporting.stats.figures import (
    CaseFact,
    ComplaintFact,
    DecisionFact,
    FiledInstitution,
    QualityFact,
    ReportFact,
    StaffFact,
    ViolationFact,
)
from services.reporting.stats.models import (
    ProjAnnualReport,
    ProjComplaint,
    ProjCreditGrade,
    ProjFilingDecision,
    ProjInspection,
    ProjInstitution,
    ProjInstitutionProfile,
    ProjQualityAssessment,
    ProjStaff,
    ProjSuspension,
    ProjUnlicensedCase,
    ProjViolation,
)
from shared.batch import BatchCollector

# --- writes ----------------------------------------------------------------------------------------


# Built statements by shape (model, columns, conflict keys, updated columns, condition): the consumer
# writes the same few shapes for every event, and building an insert … on conflict through SQLAlchemy
# costs more CPU than PostgreSQL spends running it. Values travel as bind parameters.
_UPSERTS: dict[tuple[Any, ...], Any] = {}


async def _write_grouped(session: AsyncSession, writes: list[tuple[tuple[Any, ...], Any, dict[str, Any]]]) -> None:
    """The upserts, one executemany per statement shape (in the order each shape first came)."""
    grouped: dict[tuple[Any, ...], tuple[Any, list[dict[str, Any]]]] = {}
    for shape, statement, params in writes:
        grouped.setdefault(shape, (statement, []))[1].append(params)
    for statement, rows in grouped.values():
        await session.execute(statement, rows[0] if len(rows) == 1 else rows)


# Inside a consumed batch the upserts are written with the batch's other rows of the same shape at
# its end. Safe because every projection write commutes with every other (see ``projections``:
# order-tolerant upserts), so grouping them reorders nothing that matters; they still commit in the
# batch's transaction.
_WRITES: BatchCollector[tuple[tuple[Any, ...], Any, dict[str, Any]]] = BatchCollector(
    "reporting.projections", _write_grouped
)


async def _execute(session: AsyncSession, shape: tuple[Any, ...], statement: Any, params: dict[str, Any]) -> None:
    """Run a built upsert now, or, inside a consumed batch, at its end (``_WRITES``)."""
    await _WRITES.add(session, (shape, statement, params))


def _cacheable(update: Mapping[str, Any] | None, where: Callable[[Any], Any] | None) -> bool:
    literal_updates = update is None or not any(isinstance(v, ColumnElement) for v in update.values())
    # a closure would be a new object (and a new cache entry) per call
    return literal_updates and (where is None or "<locals>" not in where.__qualname__)


async def upsert(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Mapping[str, Any] | None = None,
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """Insert the row, or on its key apply ``update`` (column → value) if ``where(excluded)``
    holds (default: always); no ``update``: keep the stored row."""
    if not _cacheable(update, where):
        stmt = pg_insert(model).values(**values)
        condition = where(stmt.excluded) if where is not None and update else None
        if update:
            await session.execute(
                stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update), where=condition)
            )
        else:
            await session.execute(stmt.on_conflict_do_nothing(index_elements=list(keys)))
        return
    shape = (model, tuple(values), tuple(keys), tuple(update) if update else None, where)
    statement = _UPSERTS.get(shape)
    if statement is None:
        table: Any = model.__table__
        ins = pg_insert(table).values({k: bindparam(f"v_{k}", type_=table.c[k].type) for k in values})
        if update:
            set_ = {k: bindparam(f"u_{k}", type_=table.c[k].type) for k in update}
            condition = where(ins.excluded) if where is not None else None
            statement = ins.on_conflict_do_update(index_elements=list(keys), set_=set_, where=condition)
        else:
            statement = ins.on_conflict_do_nothing(index_elements=list(keys))
        _UPSERTS[shape] = statement
    params = {f"v_{k}": v for k, v in values.items()} | {f"u_{k}": v for k, v in (update or {}).items()}
    await _execute(session, shape, statement, params)


def newest(column: Any, excluded: Any) -> ColumnElement[Any]:
    return func.greatest(column, excluded)  # GREATEST ignores NULLs in PostgreSQL


def earliest(column: Any, excluded: Any) -> ColumnElement[Any]:
    return func.least(column, excluded)  # LEAST ignores NULLs in PostgreSQL


async def ensure_institution(session: AsyncSession, institution_id: uuid.UUID, **times: datetime | None) -> None:
    """Create the placeholder if unknown; fold in lifecycle times: submissions and decisions keep
    the newest, filing and deregistration the earliest (each happens once; a redelivery or an older
    copy cannot move it)."""
    shape = ("ensure_institution", tuple(times))
    statement = _UPSERTS.get(shape)
    if statement is None:
        table: Any = ProjInstitution.__table__
        ins = pg_insert(table).values(
            {"institution_id": bindparam("institution_id", type_=table.c.institution_id.type)}
            | {name: bindparam(name, type_=table.c[name].type) for name in times}
        )
        if not times:
            statement = ins.on_conflict_do_nothing(index_elements=["institution_id"])
        else:
            fold = {"filed_at": earliest, "deregistered_at": earliest}
            update = {name: fold.get(name, newest)(table.c[name], ins.excluded[name]) for name in times}
            statement = ins.on_conflict_do_update(index_elements=["institution_id"], set_=update)
        _UPSERTS[shape] = statement
    await _execute(session, shape, statement, {"institution_id": institution_id, **times})


async def set_identity(
    session: AsyncSession, institution_id: uuid.UUID, *, name: str, district_code: str, street_code: str, at: datetime
) -> None:
    """Name and location from a submission without a profile, newest submission wins."""
    statement = _UPSERTS.get(("set_identity",))
    if statement is None:
        table: Any = ProjInstitution.__table__
        columns = ("institution_id", "name", "district_code", "street_code", "identity_at")
        ins = pg_insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
        newer = or_(table.c.identity_at.is_(None), table.c.identity_at <= ins.excluded.identity_at)
        statement = ins.on_conflict_do_update(
            index_elements=["institution_id"],
            set_={c: ins.excluded[c] for c in columns if c != "institution_id"},
            where=newer,
        )
        _UPSERTS[("set_identity",)] = statement
    await _execute(
        session,
        ("set_identity",),
        statement,
        {
            "institution_id": institution_id,
            "name": name,
            "district_code": district_code,
            "street_code": street_code,
            "identity_at": at,
        },
    )


# --- reads for the statistics ------------------------------------------------------------------


def _profile_in_force(before: datetime, *, filed_only: bool) -> Any:
    p = ProjInstitutionProfile
    conditions = [p.institution_id == ProjInstitution.institution_id, p.effective_at < before]
    if filed_only:
        conditions.append(p.rank >= 1)  # a submitted profile is a proposal, not a filed fact
    return (
        select(p.district_code, p.street_code, p.operating_model, p.total_slots, p.puhui_slots, p.class_count)
        .where(*conditions)
        .order_by(p.effective_at.desc(), p.rank.desc(), p.event_id.desc())
        .limit(1)
        .lateral("profile")
    )


async def filed_institutions(
    session: AsyncSession, *, filed_before: datetime, present_at: datetime
) -> list[FiledInstitution]:
    """Institutions filed before ``filed_before`` and not deregistered before ``present_at``, with
    the filed profile in force at ``filed_before``. An institution suspended (暂停收托) at
    ``present_at`` offers no places then: its slots count as 0 (it still counts as filed)."""
    i = ProjInstitution
    profile = _profile_in_force(filed_before, filed_only=True)
    s = ProjSuspension
    suspended = (
        select(s.suspended)
        .where(s.institution_id == i.institution_id, s.changed_at < present_at)
        .order_by(s.changed_at.desc(), s.event_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    offering = func.coalesce(suspended, false()).is_(false())
    rows = await session.execute(
        select(
            i.institution_id,
            profile.c.district_code,
            profile.c.street_code,
            profile.c.operating_model,
            case((offering, profile.c.total_slots), else_=0).label("total_slots"),
            case((offering, profile.c.puhui_slots), else_=0).label("puhui_slots"),
            i.filed_at,
            profile.c.class_count,
        )
        .select_from(i)
        .join(profile, true())
        .where(i.filed_at < filed_before, or_(i.deregistered_at.is_(None), i.deregistered_at >= present_at))
    )
    return [
        FiledInstitution(
            institution_id=r.institution_id,
            district_code=r.district_code,
            street_code=r.street_code,
            operating_model=r.operating_model,
            total_slots=r.total_slots,
            puhui_slots=r.puhui_slots,
            filed_at=r.filed_at,
            classes=r.class_count or 0,
        )
        for r in rows
    ]


async def staff_of(session: AsyncSession, institution_ids: Sequence[uuid.UUID]) -> list[StaffFact]:
    if not institution_ids:
        return []
    s = ProjStaff
    rows = await session.execute(
        select(s.institution_id, s.role, s.hired_on, s.left_on, s.certificates, s.training_hours).where(
            s.institution_id.in_(institution_ids)
        )
    )
    return [StaffFact(r.institution_id, r.role, r.hired_on, r.left_on, r.certificates, r.training_hours) for r in rows]


async def reports_for_year(session: AsyncSession, year: int) -> dict[uuid.UUID, ReportFact]:
    r = ProjAnnualReport
    rows = await session.execute(
        select(r.institution_id, r.submitted_at, r.on_time, r.overdue_due_date).where(r.year == year)
    )
    return {
        row.institution_id: ReportFact(
            institution_id=row.institution_id,
            submitted=row.submitted_at is not None,
            on_time=row.on_time,
            overdue_marked=row.overdue_due_date is not None,
        )
        for row in rows
    }


async def inspected_between(session: AsyncSession, start: datetime, end: datetime) -> set[uuid.UUID]:
    rows = await session.execute(
        select(ProjInspection.institution_id)
        .where(ProjInspection.inspected_at >= start, ProjInspection.inspected_at < end)
        .distinct()
    )
    return {r[0] for r in rows}


async def violations_confirmed_between(session: AsyncSession, start: datetime, end: datetime) -> list[ViolationFact]:
    """Confirmed in [start, end), each with its institution's district then (the newest profile
    before ``end`` of any kind, else the district of its submission)."""
    v, i = ProjViolation, ProjInstitution
    profile = _profile_in_force(end, filed_only=False)
    rows = await session.execute(
        select(v.severity, func.coalesce(profile.c.district_code, i.district_code).label("district_code"))
        .select_from(v)
        .outerjoin(i, i.institution_id == v.institution_id)
        .outerjoin(profile, true())
        .where(v.confirmed_at >= start, v.confirmed_at < end, v.severity.is_not(None))
    )
    return [ViolationFact(district_code=r.district_code, severity=r.severity) for r in rows]


async def grades_at(session: AsyncSession, before: datetime) -> dict[uuid.UUID, str]:
    """The grade in force at ``before`` per institution: the newest ``graded_at`` before it."""
    g = ProjCreditGrade
    rows = await session.execute(
        select(g.institution_id, g.grade)
        .where(g.graded_at < before)
        .ext(distinct_on(g.institution_id))
        .order_by(g.institution_id, g.graded_at.desc(), g.event_id.desc())
    )
    return {r.institution_id: r.grade for r in rows}


async def onsite_assessments_at(session: AsyncSession, before: datetime) -> dict[uuid.UUID, QualityFact]:
    """Per institution, its newest on-site assessment before ``before`` (by ``assessed_at``)."""
    q = ProjQualityAssessment
    rows = await session.execute(
        select(q.institution_id, q.district_code, q.grade)
        .where(q.kind == "onsite", q.assessed_at < before)
        .ext(distinct_on(q.institution_id))
        .order_by(q.institution_id, q.assessed_at.desc(), q.assessment_id.desc())
    )
    return {r.institution_id: QualityFact(district_code=r.district_code, grade=r.grade) for r in rows}


async def filing_decisions_between(session: AsyncSession, start: datetime, end: datetime) -> list[DecisionFact]:
    """Filing decisions made in [start, end), each with its institution's district (as for violations:
    the newest profile before ``end`` of any kind, else the district of its submission)."""
    d, i = ProjFilingDecision, ProjInstitution
    profile = _profile_in_force(end, filed_only=False)
    rows = await session.execute(
        select(d.outcome, func.coalesce(profile.c.district_code, i.district_code).label("district_code"))
        .select_from(d)
        .outerjoin(i, i.institution_id == d.institution_id)
        .outerjoin(profile, true())
        .where(d.decided_at >= start, d.decided_at < end)
    )
    return [DecisionFact(district_code=r.district_code, outcome=r.outcome) for r in rows]


async def unlicensed_cases_opened_before(session: AsyncSession, end: datetime) -> list[CaseFact]:
    c = ProjUnlicensedCase
    rows = await session.execute(select(c.district_code, c.opened_at, c.closed_at, c.outcome).where(c.opened_at < end))
    return [CaseFact(r.district_code, r.opened_at, r.closed_at, r.outcome) for r in rows]


async def suspended_at(session: AsyncSession, at: datetime) -> set[uuid.UUID]:
    """Institutions whose newest suspension change before ``at`` suspended them (暂停收托 then)."""
    s = ProjSuspension
    rows = await session.execute(
        select(s.institution_id, s.suspended)
        .where(s.changed_at < at)
        .ext(distinct_on(s.institution_id))
        .order_by(s.institution_id, s.changed_at.desc(), s.event_id.desc())
    )
    return {r.institution_id for r in rows if r.suspended}


async def complaints_received_or_triaged_before(session: AsyncSession, end: datetime) -> list[ComplaintFact]:
    """Complaints received, or (receipt not yet projected) triaged, before ``end``."""
    c = ProjComplaint
    rows = await session.execute(
        select(c.district_code, c.category, c.received_at, c.triaged_at, c.action).where(
            or_(c.received_at < end, c.triaged_at < end)
        )
    )
    return [ComplaintFact(r.district_code, r.category, r.received_at, r.triaged_at, r.action) for r in rows]


# --- reads for the institution summary ------------------------------------------------------------


async def institution(session: AsyncSession, institution_id: uuid.UUID) -> ProjInstitution | None:
    return await session.get(ProjInstitution, institution_id)


async def current_profile(session: AsyncSession, institution_id: uuid.UUID) -> ProjInstitutionProfile | None:
    p = ProjInstitutionProfile
    return (
        await session.execute(
            select(p)
            .where(p.institution_id == institution_id)
            .order_by(p.effective_at.desc(), p.rank.desc(), p.event_id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def staff_rows(session: AsyncSession, institution_id: uuid.UUID) -> list[StaffFact]:
    return await staff_of(session, [institution_id])


async def latest_inspection(session: AsyncSession, institution_id: uuid.UUID) -> ProjInspection | None:
    s = ProjInspection
    return (
        await session.execute(
            select(s)
            .where(s.institution_id == institution_id)
            .order_by(s.inspected_at.desc(), s.published_at.desc(), s.task_id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def inspection_count(session: AsyncSession, institution_id: uuid.UUID) -> int:
    s = ProjInspection
    return int(
        (
            await session.execute(select(func.count()).select_from(s).where(s.institution_id == institution_id))
        ).scalar_one()
    )


async def open_violations(session: AsyncSession, institution_id: uuid.UUID) -> list[ProjViolation]:
    v = ProjViolation
    return list(
        (
            await session.execute(
                select(v)
                .where(and_(v.institution_id == institution_id, v.confirmed_at.is_not(None), v.closed_at.is_(None)))
                .order_by(v.confirmed_at, v.violation_id)
            )
        ).scalars()
    )


async def confirmed_violation_count(session: AsyncSession, institution_id: uuid.UUID) -> int:
    v = ProjViolation
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(v)
                .where(v.institution_id == institution_id, v.confirmed_at.is_not(None))
            )
        ).scalar_one()
    )


async def latest_grade(session: AsyncSession, institution_id: uuid.UUID) -> ProjCreditGrade | None:
    g = ProjCreditGrade
    return (
        await session.execute(
            select(g).where(g.institution_id == institution_id).order_by(g.graded_at.desc(), g.event_id.desc()).limit(1)
        )
    ).scalar_one_or_none()


async def annual_report(session: AsyncSession, institution_id: uuid.UUID, year: int) -> ProjAnnualReport | None:
    return await session.get(ProjAnnualReport, (institution_id, year))
