"""SQL of the annual-report sub-domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.annual_reports.models import AnnualReport, AnnualReportOverdue
from services.filing.models import Institution


@dataclass(frozen=True)
class OverdueRow:
    institution_id: uuid.UUID
    year: int
    due_date: date
    district_code: str


@dataclass(frozen=True)
class CompletionRow:
    district_code: str
    expected: int
    submitted: int
    on_time: int
    overdue: int


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    return await session.get(Institution, institution_id)


async def lock_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    # Every write about an institution takes its row lock, so its events enter the outbox in commit
    # order and leave in that order.
    return (
        await session.execute(select(Institution).where(Institution.id == institution_id).with_for_update())
    ).scalar_one_or_none()


async def get_report(session: AsyncSession, institution_id: uuid.UUID, year: int) -> AnnualReport | None:
    result = await session.execute(
        select(AnnualReport).where(AnnualReport.institution_id == institution_id, AnnualReport.year == year)
    )
    return result.scalar_one_or_none()


async def report_exists(session: AsyncSession, institution_id: uuid.UUID, year: int) -> bool:
    query = select(exists().where(AnnualReport.institution_id == institution_id, AnnualReport.year == year))
    return bool((await session.execute(query)).scalar_one())


async def overdue_mark_exists(session: AsyncSession, institution_id: uuid.UUID, year: int) -> bool:
    query = select(
        exists().where(AnnualReportOverdue.institution_id == institution_id, AnnualReportOverdue.year == year)
    )
    return bool((await session.execute(query)).scalar_one())


async def add_report(session: AsyncSession, report: AnnualReport) -> None:
    session.add(report)
    await session.flush()


async def insert_overdue_marks(
    session: AsyncSession, *, year: int, due_date: date, filed_before: datetime
) -> list[OverdueRow]:
    """Mark every institution filed before ``filed_before`` and still filed, without a report for
    ``year``. Returns only the rows this call inserted: a mark another sweep already made (even one
    committing concurrently — the unique index makes us wait for it) is skipped, never returned."""
    missing = (
        select(
            Institution.id,
            literal(year),
            literal(due_date),
            Institution.district_code,
        )
        .where(
            Institution.status == "filed",
            Institution.filed_at < filed_before,
            ~exists().where(AnnualReport.institution_id == Institution.id, AnnualReport.year == year),
        )
        .order_by(Institution.id)
    )
    statement = (
        pg_insert(AnnualReportOverdue)
        .from_select(["institution_id", "year", "due_date", "district_code"], missing)
        .on_conflict_do_nothing(index_elements=["institution_id", "year"])
        .returning(
            AnnualReportOverdue.institution_id,
            AnnualReportOverdue.year,
            AnnualReportOverdue.due_date,
            AnnualReportOverdue.district_code,
        )
    )
    rows = (await session.execute(statement)).all()
    return [OverdueRow(r.institution_id, r.year, r.due_date, r.district_code) for r in rows]


async def count_outstanding_overdue(session: AsyncSession) -> int:
    """Overdue marks for which no report has come in since."""
    query = (
        select(func.count())
        .select_from(AnnualReportOverdue)
        .where(
            ~exists().where(
                AnnualReport.institution_id == AnnualReportOverdue.institution_id,
                AnnualReport.year == AnnualReportOverdue.year,
            )
        )
    )
    return int((await session.execute(query)).scalar_one())


async def completion_by_district(
    session: AsyncSession,
    *,
    year: int,
    filed_before: datetime,
    deregistered_not_before: datetime,
    district_code: str | None,
) -> dict[str, CompletionRow]:
    """Per district: institutions expected to report for ``year`` and what became of their reports."""
    report = AnnualReport.__table__.alias("r")
    mark = AnnualReportOverdue.__table__.alias("o")
    query = (
        select(
            Institution.district_code,
            func.count().label("expected"),
            func.count(report.c.id).label("submitted"),
            func.count(report.c.id).filter(report.c.on_time.is_(True)).label("on_time"),
            func.count(mark.c.id).filter(report.c.id.is_(None)).label("overdue"),
        )
        .select_from(Institution)
        .outerjoin(report, and_(report.c.institution_id == Institution.id, report.c.year == year))
        .outerjoin(mark, and_(mark.c.institution_id == Institution.id, mark.c.year == year))
        .where(
            Institution.filed_at < filed_before,
            or_(
                Institution.status == "filed",
                and_(Institution.status == "deregistered", Institution.deregistered_at >= deregistered_not_before),
            ),
        )
        .group_by(Institution.district_code)
    )
    if district_code is not None:
        query = query.where(Institution.district_code == district_code)
    rows = (await session.execute(query)).all()
    return {
        r.district_code: CompletionRow(r.district_code, r.expected, r.submitted, r.on_time, r.overdue) for r in rows
    }
