"""Annual reports (年报): filing officers submit them; supervisors, ops and officers read completion."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.filing.access import require_institution_readable
from services.filing.annual_reports import service
from services.filing.annual_reports.errors import (
    AnnualReportExists,
    AnnualReportNotFound,
    DistrictOutOfScope,
    InstitutionNotFiled,
)
from services.filing.annual_reports.schemas import (
    AnnualReportIn,
    AnnualReportOut,
    CompletionCounts,
    CompletionOut,
    DistrictCompletion,
    EnrolmentOut,
    FeesOut,
    IncidentsOut,
    StaffOut,
)
from services.filing.errors import InstitutionNotFound
from services.filing.settings import FilingSettings
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["annual-reports"])

FilingOfficer = Annotated[Principal, Depends(require_roles("filing_officer"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "ops"))]
# bounded: a year outside it is a 422, never an integer overflow in the database (a 500)
ReportYear = Annotated[int, Path(ge=2000, le=2100, description="the reporting year")]


def _settings(request: Request) -> FilingSettings:
    settings = request.app.state.settings
    assert isinstance(settings, FilingSettings)
    return settings


def _out(view: service.ReportView) -> AnnualReportOut:
    return AnnualReportOut(
        id=view.id,
        institution_id=view.institution_id,
        year=view.year,
        district_code=view.district_code,
        enrolment=[EnrolmentOut.model_validate({"class_type": t, "children": n}) for t, n in view.enrolment],
        enrolled_children=view.enrolled_children,
        staff=StaffOut(**view.staff),
        staff_count=view.staff_count,
        incidents=IncidentsOut(count=view.incidents, descriptions=view.incident_descriptions),
        fees=FeesOut(monthly_fee_yuan=view.monthly_fee_yuan, puhui_monthly_fee_yuan=view.puhui_monthly_fee_yuan),
        due_date=view.due_date,
        on_time=view.on_time,
        overdue_marked=view.overdue_marked,
        submitted_by=view.submitted_by,
        submitted_at=view.submitted_at,
    )


def _district(d: service.DistrictCompletionView) -> DistrictCompletion:
    return DistrictCompletion.model_validate(
        {"district_code": d.district_code, "district_name": d.district_name, **asdict(d.counts)}
    )


@router.post(
    "/institutions/{institution_id}/annual-reports/{year}",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnualReportOut,
    summary="Submit an institution's annual report (报送年报)",
    responses=error_responses(
        InvalidInput,
        InstitutionNotFound,
        InstitutionNotFiled,
        AnnualReportExists,
        DistrictOutOfScope,
        Unauthenticated,
    ),
)
async def submit_annual_report(
    institution_id: uuid.UUID,
    year: ReportYear,
    body: AnnualReportIn,
    session: DbSession,
    officer: FilingOfficer,
    request: Request,
    response: Response,
) -> AnnualReportOut:
    view = await service.submit_report(
        session,
        request.app.state.outbox,
        _settings(request),
        institution_id=institution_id,
        year=year,
        report=service.ReportInput(
            enrolment=[(e.class_type, e.children) for e in body.enrolment],
            staff=body.staff.model_dump(),
            incidents=body.incidents.count,
            incident_descriptions=list(body.incidents.descriptions),
            monthly_fee_yuan=body.fees.monthly_fee_yuan,
            puhui_monthly_fee_yuan=body.fees.puhui_monthly_fee_yuan,
        ),
        officer=officer.subject,
        officer_districts=officer.districts,
    )
    response.headers["Location"] = f"/v1/institutions/{institution_id}/annual-reports/{year}"
    return _out(view)


@router.get(
    "/institutions/{institution_id}/annual-reports/{year}",
    response_model=AnnualReportOut,
    summary="One institution's annual report for a year",
    responses=error_responses(InstitutionNotFound, AnnualReportNotFound, Unauthenticated, Forbidden),
)
async def get_annual_report(
    institution_id: uuid.UUID, year: ReportYear, session: DbSession, reader: Reader
) -> AnnualReportOut:
    await require_institution_readable(session, reader, institution_id)
    return _out(await service.get_report(session, institution_id, year))


@router.get(
    "/annual-reports/completion",
    response_model=CompletionOut,
    summary="Annual-report completion per district (年报完成率)",
    responses=error_responses(InvalidInput, Unauthenticated, Forbidden),
)
async def annual_report_completion(
    session: DbSession,
    _: Reader,
    request: Request,
    year: Annotated[int, Query(ge=2000, le=2100, description="the reporting year")],
    district: Annotated[str | None, Query(max_length=20, description="district code or name, e.g. 440106")] = None,
) -> CompletionOut:
    view = await service.completion(session, _settings(request), year=year, district=district)
    return CompletionOut(
        year=view.year,
        due_date=view.due_date,
        as_of=view.as_of,
        districts=[_district(d) for d in view.districts],
        total=CompletionCounts.model_validate(asdict(view.total)),
    )
