"""Annual reports (年报): submission, the overdue sweep, and completion per district.

Dates are Beijing dates (``shared.workdays.china_today``). The report for year Y is due on the
configured month-day of Y+1; a report submitted on or before that date is on time. Nothing here
commits: the request's unit of work (or the job's ``ctx.db.transaction()``) owns the transaction.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.annual_reports import repository
from services.filing.annual_reports.errors import (
    AnnualReportExists,
    AnnualReportNotFound,
    DistrictOutOfScope,
    EnrolmentExceedsCapacity,
    InstitutionNotFiled,
    YearOutOfRange,
)
from services.filing.annual_reports.models import AnnualReport
from services.filing.errors import InstitutionNotFound
from services.filing.settings import FilingSettings
from shared.errors import InvalidInput
from shared.events.filing import AnnualReportOverdueV1, AnnualReportSubmittedV1
from shared.outbox import Outbox
from shared.reference import district_by_name_or_code, districts
from shared.workdays import CHINA, china_today

# The platform's records start with the 2020 implementation plan (穗托育办〔2020〕2号).
FIRST_REPORT_YEAR = 2020
STAFF_KEYS = ("carers", "health", "principal", "other")


@dataclass(frozen=True)
class ReportInput:
    enrolment: list[tuple[str, int]]  # (class_type, children), each class type at most once
    staff: dict[str, int]  # carers, health, principal, other
    incidents: int
    incident_descriptions: list[str]
    monthly_fee_yuan: int
    puhui_monthly_fee_yuan: int | None


@dataclass(frozen=True)
class ReportView:
    id: uuid.UUID
    institution_id: uuid.UUID
    year: int
    district_code: str
    enrolment: list[tuple[str, int]]
    enrolled_children: int
    staff: dict[str, int]
    staff_count: int
    incidents: int
    incident_descriptions: list[str]
    monthly_fee_yuan: int
    puhui_monthly_fee_yuan: int | None
    due_date: date
    on_time: bool
    overdue_marked: bool
    submitted_by: str
    submitted_at: datetime


@dataclass(frozen=True)
class OverdueMark:
    institution_id: uuid.UUID
    year: int
    due_date: date
    district_code: str


@dataclass(frozen=True)
class SweepResult:
    marked: list[OverdueMark]  # marks (and events) made by this sweep only
    outstanding: int  # all overdue marks still without a report, for the gauge


@dataclass(frozen=True)
class Completion:
    expected: int
    submitted: int
    on_time: int
    late: int
    overdue: int
    completion_rate: float | None


@dataclass(frozen=True)
class DistrictCompletionView:
    district_code: str
    district_name: str
    counts: Completion


@dataclass(frozen=True)
class CompletionView:
    year: int
    due_date: date
    as_of: date
    districts: list[DistrictCompletionView]
    total: Completion


def due_date(year: int, settings: FilingSettings) -> date:
    """The report for ``year`` is due on the configured month-day of ``year + 1``. A day the month
    does not have (e.g. 02-31 from configuration) means the month's last day."""
    month = settings.annual_report_due_month
    last_day = calendar.monthrange(year + 1, month)[1]
    return date(year + 1, month, min(settings.annual_report_due_day, last_day))


def _beijing_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def _end_of_year(year: int) -> datetime:
    """The first instant of ``year + 1`` in Beijing: "filed by the end of Y" means filed before it."""
    return _beijing_midnight(date(year + 1, 1, 1))


def _check_year(year: int, today: date) -> None:
    if year < FIRST_REPORT_YEAR:
        raise YearOutOfRange(f"年报年度不能早于{FIRST_REPORT_YEAR}年")
    if year > today.year:
        raise YearOutOfRange(f"年报年度不能晚于当前年度（{today.year}年）")


def _in_scope(institution_district: str, officer_districts: tuple[str, ...]) -> bool:
    # Tokens may name districts by code ("440106") or by name ("天河区"); compare codes.
    for value in officer_districts:
        district = district_by_name_or_code(value)
        if district is not None and district.code == institution_district:
            return True
    return False


def _view(report: AnnualReport, district_code: str, overdue_marked: bool) -> ReportView:
    return ReportView(
        id=report.id,
        institution_id=report.institution_id,
        year=report.year,
        district_code=district_code,
        enrolment=[(e["class_type"], int(e["children"])) for e in report.enrolment],
        enrolled_children=report.enrolled_children,
        staff={k: int(report.staff[k]) for k in STAFF_KEYS},
        staff_count=report.staff_count,
        incidents=report.incidents,
        incident_descriptions=list(report.incident_descriptions),
        monthly_fee_yuan=report.monthly_fee_yuan,
        puhui_monthly_fee_yuan=report.puhui_monthly_fee_yuan,
        due_date=report.due_date,
        on_time=report.on_time,
        overdue_marked=overdue_marked,
        submitted_by=report.submitted_by,
        submitted_at=report.submitted_at,
    )


async def submit_report(
    session: AsyncSession,
    outbox: Outbox,
    settings: FilingSettings,
    *,
    institution_id: uuid.UUID,
    year: int,
    report: ReportInput,
    officer: str,
    officer_districts: tuple[str, ...],
    now: datetime | None = None,
) -> ReportView:
    """File one institution's report for ``year`` and emit AnnualReportSubmittedV1 in the same
    transaction. A report after the due date (even after the sweep marked it overdue) is accepted
    and recorded as late."""
    now = now or datetime.now(UTC)
    today = china_today(now)
    _check_year(year, today)
    institution = await repository.lock_institution(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    if not _in_scope(institution.district_code, officer_districts):
        district_name = districts()[institution.district_code].name
        raise DistrictOutOfScope(f"该机构属于{district_name}，不在您负责的区，无权为其报送年报")
    if institution.status != "filed":
        raise InstitutionNotFiled()
    if institution.filed_at is not None and year < china_today(institution.filed_at).year:
        raise InvalidInput(
            f"机构于{china_today(institution.filed_at).year}年备案，不能报送{year}年度的年报",
            code="year_before_filing",
            field="year",
        )
    if await repository.report_exists(session, institution_id, year):
        raise AnnualReportExists(f"该机构{year}年度的年报已报送，不能重复报送", field="year")
    enrolled = sum(children for _, children in report.enrolment)
    if enrolled > institution.total_slots:
        raise EnrolmentExceedsCapacity(f"在托幼儿合计{enrolled}人，超过备案托位数{institution.total_slots}个")

    due = due_date(year, settings)
    on_time = today <= due
    overdue_marked = await repository.overdue_mark_exists(session, institution_id, year)
    row = AnnualReport(
        id=uuid.uuid4(),
        institution_id=institution_id,
        year=year,
        enrolment=[{"class_type": t, "children": n} for t, n in report.enrolment],
        enrolled_children=enrolled,
        staff={k: report.staff[k] for k in STAFF_KEYS},
        staff_count=sum(report.staff[k] for k in STAFF_KEYS),
        incidents=report.incidents,
        incident_descriptions=list(report.incident_descriptions),
        monthly_fee_yuan=report.monthly_fee_yuan,
        puhui_monthly_fee_yuan=report.puhui_monthly_fee_yuan,
        due_date=due,
        on_time=on_time,
        submitted_by=officer,
        submitted_at=now,
    )
    try:
        async with session.begin_nested():
            await repository.add_report(session, row)
    except IntegrityError as exc:  # a concurrent request filed the same year first
        raise AnnualReportExists(f"该机构{year}年度的年报已报送，不能重复报送", field="year") from exc
    await outbox.add(
        session,
        AnnualReportSubmittedV1(
            institution_id=institution_id,
            year=year,
            submitted_at=now,
            on_time=on_time,
            enrolled_children=row.enrolled_children,
            staff_count=row.staff_count,
            incidents=row.incidents,
        ),
        subject=str(institution_id),
    )
    return _view(row, institution.district_code, overdue_marked)


async def get_report(session: AsyncSession, institution_id: uuid.UUID, year: int) -> ReportView:
    institution = await repository.get_institution(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    report = await repository.get_report(session, institution_id, year)
    if report is None:
        raise AnnualReportNotFound()
    overdue_marked = await repository.overdue_mark_exists(session, institution_id, year)
    return _view(report, institution.district_code, overdue_marked)


async def sweep_overdue(session: AsyncSession, outbox: Outbox, today: date, settings: FilingSettings) -> SweepResult:
    """Mark missing reports overdue and emit one AnnualReportOverdueV1 per mark this call made.

    For every year Y whose due date is before ``today`` (Beijing), each institution currently filed
    that was filed before the end of Y (Beijing) and has no report for Y gets a mark. Marks are
    inserted with ON CONFLICT DO NOTHING on (institution_id, year) and events are written only for
    the rows actually inserted, in the same transaction — so repeated sweeps and sweeps running
    concurrently on several replicas mark and announce each institution-year exactly once.
    """
    marked: list[OverdueMark] = []
    for year in range(FIRST_REPORT_YEAR, today.year):
        due = due_date(year, settings)
        if today <= due:
            break  # due dates only get later with the year
        rows = await repository.insert_overdue_marks(session, year=year, due_date=due, filed_before=_end_of_year(year))
        for row in rows:
            await outbox.add(
                session,
                AnnualReportOverdueV1(
                    institution_id=row.institution_id,
                    year=row.year,
                    due_date=row.due_date,
                    district_code=row.district_code,
                ),
                subject=str(row.institution_id),
            )
            marked.append(OverdueMark(row.institution_id, row.year, row.due_date, row.district_code))
    outstanding = await repository.count_outstanding_overdue(session)
    return SweepResult(marked=marked, outstanding=outstanding)


def _completion(expected: int, submitted: int, on_time: int, overdue: int) -> Completion:
    rate = round(submitted / expected, 4) if expected else None
    return Completion(expected, submitted, on_time, submitted - on_time, overdue, rate)


async def completion(
    session: AsyncSession, settings: FilingSettings, *, year: int, district: str | None, today: date | None = None
) -> CompletionView:
    """Completion of ``year``'s reports per district (all 11, zeros included, or the one asked for).

    Expected to report: institutions filed before the end of ``year`` (Beijing) that are still filed,
    or were deregistered on or after the due date — an institution that closed before its report was
    due owes none. Submitted and on-time count only reports of expected institutions, so the rate
    stays within 0–1.
    """
    today = today or china_today()
    _check_year(year, today)
    wanted: str | None = None
    if district is not None:
        found = district_by_name_or_code(district)
        if found is None:
            raise InvalidInput("所属区不是广州市的行政区，请从11个区中选择", code="unknown_district", field="district")
        wanted = found.code
    due = due_date(year, settings)
    rows = await repository.completion_by_district(
        session,
        year=year,
        filed_before=_end_of_year(year),
        deregistered_not_before=_beijing_midnight(due),
        district_code=wanted,
    )
    views: list[DistrictCompletionView] = []
    for code, ref in districts().items():
        if wanted is not None and code != wanted:
            continue
        r = rows.get(code)
        counts = _completion(r.expected, r.submitted, r.on_time, r.overdue) if r else _completion(0, 0, 0, 0)
        views.append(DistrictCompletionView(code, ref.name, counts))
    total = _completion(
        sum(v.counts.expected for v in views),
        sum(v.counts.submitted for v in views),
        sum(v.counts.on_time for v in views),
        sum(v.counts.overdue for v in views),
    )
    return CompletionView(year=year, due_date=due, as_of=today, districts=views, total=total)
