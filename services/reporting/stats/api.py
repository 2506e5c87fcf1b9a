"""Statistics against the plan's targets (public: aggregate figures only) and the institution
summary (ops, supervisors, agencies with a data-sharing grant)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from services.reporting.settings import ReportingSettings
from services.reporting.stats import figures, service
from services.reporting.stats.errors import InstitutionUnknown, YearOutOfRange
from services.reporting.stats.figures import DistrictFigures, DistrictStats, StreetCoverage
from services.reporting.stats.schemas import (
    DISTRICT_LABELS_ZH,
    STREET_LABELS_ZH,
    DensityOut,
    DistrictStatsOut,
    DistrictStatsPage,
    GradesOut,
    InspectionsOut,
    InstitutionSummaryOut,
    ProgressAreaOut,
    ProgressPage,
    ProgressYearOut,
    PuhuiOut,
    QualityAssessmentOut,
    QualityGradesOut,
    SlotsOut,
    StreetCoverageOut,
    StreetStatsPage,
    UncoveredStreetOut,
    ViolationsOut,
)
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Unauthenticated, error_responses
from shared.grants import AgencyView, NoDataSharingGrant, Sources, agency_view, grants_of
from shared.workdays import china_today

router = APIRouter(prefix="/v1", tags=["statistics"])

Year = Annotated[
    int,
    # four digits, so nothing overflows; outside the statistics' years the service answers year_out_of_range
    Query(ge=0, le=9999, description="calendar year (Beijing time), from the first statistics year to this year"),
]


def _policy(request: Request) -> service.StatsPolicy:
    settings = cast(ReportingSettings, request.app.state.settings)
    return service.StatsPolicy(
        first_year=settings.stats_first_year,
        report_due_month=settings.annual_report_due_month,
        report_due_day=settings.annual_report_due_day,
    )


def _slots_out(fig: DistrictFigures) -> SlotsOut:
    return SlotsOut(
        value=fig.slots,
        target=fig.slot_target,
        progress=fig.slot_progress,
        gap=fig.slot_gap,
        baseline_2022=fig.slots_2022,
        planned_2025=fig.slots_planned_2025,
        to_add_2025=fig.slots_to_add_2025,
    )


def _district_out(fig: DistrictFigures) -> DistrictStatsOut:
    # annual reports, staff, filing decisions, unlicensed cases, operating models and complaints are
    # already the answer's models (figures counts into them); the rest is regrouped here
    return DistrictStatsOut(
        code=fig.code,
        name=fig.name,
        institutions=fig.institutions,
        slots=_slots_out(fig),
        slots_per_1000=DensityOut(value=fig.slots_per_1000, target=fig.slots_per_1000_target, residents=fig.residents),
        puhui=PuhuiOut(slots=fig.puhui_slots, share=fig.puhui_share, target=fig.puhui_share_target),
        annual_reports=fig.annual_reports,
        staff=fig.staff,
        inspections=InspectionsOut(
            filed_institutions=fig.institutions, inspected=fig.inspected, coverage=fig.inspection_coverage
        ),
        violations=ViolationsOut(**fig.violations, total=fig.violations_total),
        credit_grades=GradesOut(**fig.grades),
        quality_assessment=QualityAssessmentOut(
            filed_institutions=fig.quality.filed_institutions,
            assessed=fig.quality.assessed,
            share=fig.quality.share,
            grades=QualityGradesOut(**fig.quality.grades),
        ),
        filing_decisions=fig.filing_decisions,
        unlicensed_cases=fig.unlicensed,
        operating_models=list(fig.models.values()),
        complaints=fig.complaints,
    )


@router.get(
    "/stats/districts",
    response_model=DistrictStatsPage,
    summary="Per district and city: slots, 普惠 share, reports, staff, inspections, credit, each beside its target",
    description="Public (aggregate figures only). Definitions: docs/statistics.md.",
    responses=error_responses(YearOutOfRange),
)
async def district_stats(request: Request, session: DbSession, year: Year) -> DistrictStatsPage:
    stats = await service.district_stats(session, year=year, today=china_today(), policy=_policy(request))
    return DistrictStatsPage(
        year=stats.year,
        as_of=stats.as_of,
        districts=[_district_out(f) for f in stats.districts],
        city=_district_out(stats.city),
        labels=DISTRICT_LABELS_ZH,
    )


def _nth_district(stats: DistrictStats, n: int) -> DistrictFigures:
    return stats.districts[n]


@router.get(
    "/stats/progress",
    response_model=ProgressPage,
    summary="Progress by year: filed slots, slots per 1,000 residents (every year: the 2023 resident population) "
    "and 普惠 share of every year since 2023, beside each year's target and the annex's 2022 baseline",
    description="Public (aggregate figures only). Definitions: docs/statistics.md.",
)
async def progress_stats(session: DbSession) -> ProgressPage:
    stats = await service.progress(session, today=china_today())

    def area(pick: Callable[[DistrictStats], DistrictFigures]) -> ProgressAreaOut:
        first = pick(stats.years[0]) if stats.years else None
        rows = [pick(y) for y in stats.years]
        return ProgressAreaOut(
            code=first.code if first else "",
            name=first.name if first else "",
            years=[
                ProgressYearOut(
                    year=y.year,
                    slots=_slots_out(f),
                    slots_per_1000=DensityOut(
                        value=f.slots_per_1000, target=f.slots_per_1000_target, residents=f.residents
                    ),
                    puhui=PuhuiOut(slots=f.puhui_slots, share=f.puhui_share, target=f.puhui_share_target),
                )
                for y, f in zip(stats.years, rows, strict=True)
            ],
        )

    count = len(stats.years[0].districts) if stats.years else 0
    return ProgressPage(
        baseline_year=figures.PLAN_START - 1,
        years=[y.year for y in stats.years],
        districts=[area(functools.partial(_nth_district, n=n)) for n in range(count)],
        city=area(lambda y: y.city),
        labels={k: v for k, v in DISTRICT_LABELS_ZH.items() if k.split(".")[0] in ("slots", "slots_per_1000", "puhui")},
    )


def _coverage_out(c: StreetCoverage, target: float | None, pp_target: float | None) -> StreetCoverageOut:
    return StreetCoverageOut(
        code=c.code,
        name=c.name,
        streets=c.streets,
        covered=c.covered,
        share=c.share,
        target=target,
        public_private_covered=c.public_private_covered,
        public_private_share=c.public_private_share,
        public_private_target=pp_target,
    )


@router.get(
    "/stats/streets",
    response_model=StreetStatsPage,
    summary="Share of streets/towns with at least one filed 普惠 institution, and the streets still uncovered",
    description="Public (aggregate figures only). Definitions: docs/statistics.md.",
    responses=error_responses(YearOutOfRange),
)
async def street_stats(request: Request, session: DbSession, year: Year) -> StreetStatsPage:
    stats = await service.street_stats(session, year=year, today=china_today(), policy=_policy(request))
    return StreetStatsPage(
        year=stats.year,
        districts=[_coverage_out(c, stats.target, stats.public_private_target) for c in stats.districts],
        city=_coverage_out(stats.city, stats.target, stats.public_private_target),
        uncovered=[
            UncoveredStreetOut(code=s.code, name=s.name, district_code=s.district_code, district_name=s.district_name)
            for s in stats.uncovered
        ],
        labels=STREET_LABELS_ZH,
    )


SummaryReader = Annotated[Principal, Depends(require_roles("ops", "supervisor", "agency:*"))]

_E = "cn.gov.gz.childcare."
_FILED, _SUBMITTED = f"{_E}filing.institution.filed.v1", f"{_E}filing.institution.submitted.v1"
_HIRED, _REPORT = f"{_E}filing.staff.hired.v1", f"{_E}filing.annual_report.submitted.v1"
_PUBLISHED, _CONFIRMED = f"{_E}inspection.result.published.v1", f"{_E}inspection.violation.confirmed.v1"
_GRADED = f"{_E}credit.institution.graded.v1"

# What an agency may see of the summary: each field shows these event fields, so it is shown when
# the agency's data-sharing grant covers one of them (shared.grants); anything else is left out.
SUMMARY_SOURCES: Sources = {
    "institution_id": [(_FILED, "institution_id"), (_SUBMITTED, "institution_id")],
    "status": [(_FILED, "institution_id"), (_SUBMITTED, "institution_id")],
    "name": [(_FILED, "profile.name"), (_SUBMITTED, "name")],
    "district_code": [(_FILED, "profile.district_code"), (_SUBMITTED, "district_code")],
    "street_code": [(_FILED, "profile.street_code"), (_SUBMITTED, "street_code")],
    "operating_model": [(_FILED, "profile.operating_model")],
    "total_slots": [(_FILED, "profile.total_slots")],
    "puhui_slots": [(_FILED, "profile.puhui_slots")],
    "filed_at": [(_FILED, "decided_at")],
    "deregistered_at": [(f"{_E}filing.institution.deregistered.v1", "deregistered_at")],
    "staff.active": [(_HIRED, "staff_id")],
    "staff.by_role": [(_HIRED, "role")],
    "staff.certified": [(_HIRED, "certificates")],
    "staff.certified_rate": [(_HIRED, "certificates")],
    "staff.trained": [(_HIRED, "training_hours")],
    "staff.training_rate": [(_HIRED, "training_hours")],
    "inspections": [(_PUBLISHED, "task_id")],
    **{f"latest_inspection.{f}": [(_PUBLISHED, f)] for f in ("task_id", "kind", "conclusion", "violation_count")},
    "latest_inspection.inspected_at": [(_PUBLISHED, "inspected_at")],
    "latest_inspection.published_at": [(_PUBLISHED, "published_at")],
    "violations.confirmed": [(_CONFIRMED, "violation_id")],
    "violations.open": [(_CONFIRMED, "violation_id")],
    "violations.open_by_severity": [(_CONFIRMED, "severity")],
    **{
        f"violations.open_items.{f}": [(_CONFIRMED, f)]
        for f in ("violation_id", "code", "title_zh", "severity", "confirmed_at", "rectification_due")
    },
    "violations.open_items.escalated": [(f"{_E}inspection.violation.escalated.v1", "violation_id")],
    "credit_grade.grade": [(_GRADED, "grade")],
    "credit_grade.score": [(_GRADED, "score")],
    "credit_grade.graded_at": [(_GRADED, "graded_at")],
    "annual_report.year": [(_REPORT, "year"), (f"{_E}filing.annual_report.overdue.v1", "year")],
    "annual_report.status": [(_REPORT, "on_time"), (f"{_E}filing.annual_report.overdue.v1", "year")],
    "annual_report.submitted_at": [(_REPORT, "submitted_at")],
}


@router.get(
    "/institutions/{institution_id}/summary",
    response_model=InstitutionSummaryOut,
    summary="One institution at a glance: filing, slots, staff compliance, inspections, violations, credit, 年报",
    description="ops and supervisors get every field. An agency gets only the fields its data-sharing grant "
    "covers (each field shows event fields, see docs/api.md); the others are absent. An agency without a grant, "
    "or whose grant covers none of it, gets 403 `no_data_sharing_grant`.",
    responses=error_responses(InstitutionUnknown, YearOutOfRange, Unauthenticated, NoDataSharingGrant),
)
async def institution_summary(
    request: Request,
    session: DbSession,
    principal: SummaryReader,
    institution_id: Annotated[uuid.UUID, Path()],
    report_year: Annotated[
        int | None, Query(ge=0, le=9999, description="annual report year to show; default: last year (Beijing)")
    ] = None,
) -> InstitutionSummaryOut | JSONResponse:
    settings = cast(ReportingSettings, request.app.state.settings)
    # an agency needs a data-sharing agreement, as for the ledger (raises 403 otherwise)
    view_of: AgencyView = agency_view(principal, grants_of(settings), full_roles=("ops", "supervisor"))
    view_of.require(SUMMARY_SOURCES)  # refused before anything is read
    out = await service.institution_summary(
        session, institution_id, today=china_today(), report_year=report_year, policy=_policy(request)
    )
    if view_of.full:
        return out
    # an agency: only the granted fields (and the day the summary is as of)
    shown = view_of.redact(out.model_dump(mode="json"), SUMMARY_SOURCES)
    return JSONResponse({**shown, "as_of": out.as_of.isoformat()})
