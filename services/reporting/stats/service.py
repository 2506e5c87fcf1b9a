"""Statistics per district and street, and the institution summary, read from the projections.
No FastAPI here and no commit: the request's unit of work owns the transaction."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.stats import figures
from services.reporting.stats import repository as repo
from services.reporting.stats.errors import InstitutionUnknown, YearOutOfRange
from services.reporting.stats.figures import DistrictStats, StreetStats
from services.reporting.stats.schemas import (
    AnnualReportStatusOut,
    GradeOut,
    InspectionOut,
    InstitutionSummaryOut,
    SummaryStaffOut,
    SummaryViolationsOut,
    ViolationOut,
)


@dataclass(frozen=True)
class StatsPolicy:
    """What the statistics need from configuration: the first year asked about, and the annual
    report due day (month, day of the year after), which must equal the filing service's."""

    first_year: int = 2020
    report_due_month: int = 3
    report_due_day: int = 31


def check_year(year: int, today: date, policy: StatsPolicy, *, field_name: str = "year") -> None:
    if year < policy.first_year or year > today.year:
        raise YearOutOfRange(f"统计年度须在{policy.first_year}年至{today.year}年之间", field=field_name)


async def district_stats(session: AsyncSession, *, year: int, today: date, policy: StatsPolicy) -> DistrictStats:
    check_year(year, today, policy)
    end = figures.end_of_year(year)
    filed = await repo.filed_institutions(session, filed_before=end, present_at=end)
    report_year = year  # the 年报 of Y, due in Y+1
    # owing a report for Y: filed before the end of Y and not deregistered before its due day
    due = figures.report_due_midnight(report_year, policy.report_due_month, policy.report_due_day)
    owing = await repo.filed_institutions(session, filed_before=figures.end_of_year(report_year), present_at=due)
    # an institution suspended (暂停收托) on the due day owes no report then, as in the filing
    # service's completion figure (which leaves out the institutions suspended now)
    suspended = await repo.suspended_at(session, due)
    expected = [i for i in owing if i.institution_id not in suspended]
    return figures.district_stats(
        year=year,
        today=today,
        filed=filed,
        staff=await repo.staff_of(session, [i.institution_id for i in filed]),
        report_expected=expected,
        reports=await repo.reports_for_year(session, report_year),
        inspected=await repo.inspected_between(session, figures.start_of_year(year), end),
        violations=await repo.violations_confirmed_between(session, figures.start_of_year(year), end),
        grades=await repo.grades_at(session, end),
        assessments=await repo.onsite_assessments_at(session, end),
        decisions=await repo.filing_decisions_between(session, figures.start_of_year(year), end),
        cases=await repo.unlicensed_cases_opened_before(session, end),
        complaints=await repo.complaints_received_or_triaged_before(session, end),
    )


async def progress(session: AsyncSession, *, today: date) -> figures.ProgressStats:
    """Each year from the plan's first to this one (a later year keeps counting against nothing: its
    targets are null)."""
    filed_by_year: dict[int, list[figures.FiledInstitution]] = {}
    for year in range(figures.PLAN_START, today.year + 1):
        end = figures.end_of_year(year)
        filed_by_year[year] = await repo.filed_institutions(session, filed_before=end, present_at=end)
    return figures.progress(filed_by_year, today)


async def street_stats(session: AsyncSession, *, year: int, today: date, policy: StatsPolicy) -> StreetStats:
    check_year(year, today, policy)
    end = figures.end_of_year(year)
    return figures.street_stats(year, await repo.filed_institutions(session, filed_before=end, present_at=end))


# --- institution summary -------------------------------------------------------------------------


async def institution_summary(
    session: AsyncSession, institution_id: uuid.UUID, *, today: date, report_year: int | None, policy: StatsPolicy
) -> InstitutionSummaryOut:
    """The answer itself (the API returns it, or the fields an agency's grant covers)."""
    inst = await repo.institution(session, institution_id)
    if inst is None:
        raise InstitutionUnknown(field="institution_id")
    year = report_year if report_year is not None else today.year - 1
    check_year(year, today, policy, field_name="report_year")
    profile = await repo.current_profile(session, institution_id)
    status = figures.filing_status(
        last_submitted_at=inst.last_submitted_at,
        returned_at=inst.returned_at,
        rejected_at=inst.rejected_at,
        filed_at=inst.filed_at,
        deregistered_at=inst.deregistered_at,
    )
    active = [
        s for s in await repo.staff_rows(session, institution_id) if figures.active_on(s.hired_on, s.left_on, today)
    ]
    by_role = dict.fromkeys(figures.ROLES, 0)
    for s in active:
        if s.role in by_role:
            by_role[s.role] += 1
    certified = sum(figures.certified_on(s.certificates, today) for s in active)
    trained = sum(figures.trained(s.certificates, s.training_hours) for s in active)
    latest = await repo.latest_inspection(session, institution_id)
    open_rows = await repo.open_violations(session, institution_id)
    open_items = [
        ViolationOut(
            violation_id=v.violation_id,
            code=v.code,
            title_zh=v.title_zh,
            severity=v.severity or "",
            confirmed_at=v.confirmed_at,  # open_violations: confirmed only
            rectification_due=v.rectification_due,
            escalated=v.escalated_at is not None,
        )
        for v in open_rows
    ]
    open_by_severity = dict.fromkeys(figures.SEVERITIES, 0)
    open_by_severity.update(Counter(v.severity for v in open_items if v.severity in open_by_severity))
    grade = await repo.latest_grade(session, institution_id)
    return InstitutionSummaryOut(
        institution_id=institution_id,
        status=status,
        name=profile.name if profile else inst.name,
        district_code=profile.district_code if profile else inst.district_code,
        street_code=profile.street_code if profile else inst.street_code,
        operating_model=profile.operating_model if profile else None,
        total_slots=profile.total_slots if profile else None,
        puhui_slots=profile.puhui_slots if profile else None,
        filed_at=inst.filed_at,
        deregistered_at=inst.deregistered_at,
        as_of=today,
        staff=SummaryStaffOut(
            active=len(active),
            by_role=by_role,
            certified=certified,
            trained=trained,
            certified_rate=figures.ratio(certified, len(active)),
            training_rate=figures.ratio(trained, len(active)),
        ),
        inspections=await repo.inspection_count(session, institution_id),
        latest_inspection=InspectionOut.model_validate(latest, from_attributes=True) if latest else None,
        violations=SummaryViolationsOut(
            confirmed=await repo.confirmed_violation_count(session, institution_id),
            open=len(open_items),
            open_by_severity=open_by_severity,
            open_items=open_items,
        ),
        credit_grade=GradeOut.model_validate(grade, from_attributes=True) if grade else None,
        annual_report=await _report_status(session, inst.filed_at, institution_id, year),
    )


async def _report_status(
    session: AsyncSession, filed_at: datetime | None, institution_id: uuid.UUID, year: int
) -> AnnualReportStatusOut:
    report = await repo.annual_report(session, institution_id, year)
    if report is not None and report.submitted_at is not None:
        status = "on_time" if report.on_time else "late"
        return AnnualReportStatusOut(year=year, status=status, submitted_at=report.submitted_at)
    if report is not None and report.overdue_due_date is not None:
        return AnnualReportStatusOut(year=year, status="overdue", submitted_at=None)
    if filed_at is None or filed_at >= figures.end_of_year(year):  # not filed during that year: owes no report
        return AnnualReportStatusOut(year=year, status="not_due", submitted_at=None)
    return AnnualReportStatusOut(year=year, status="pending", submitted_at=None)
