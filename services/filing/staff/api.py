"""Staff roster API (从业人员): hire, leave, roster, the authorised detail view, staffing state."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.filing.access import require_institution_readable
from services.filing.errors import InstitutionNotFound
from services.filing.staff import service
from services.filing.staff.errors import (
    AlreadyEmployed,
    AlreadyLeft,
    DistrictOutOfScope,
    HealthCertificateExpired,
    InstitutionNotFiled,
    PersonBanned,
    StaffNotFound,
)
from services.filing.staff.schemas import (
    StaffDetailOut,
    StaffHireIn,
    StaffingOut,
    StaffOut,
    StaffPage,
    StaffRosterIn,
)
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.settings import ServiceSettings
from shared.text import FreeText

router = APIRouter(prefix="/v1", tags=["staff"])

FilingOfficer = Annotated[Principal, Depends(require_roles("filing_officer"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "ops"))]


def _actor(principal: Principal) -> service.Actor:
    return service.Actor(subject=principal.subject, roles=principal.roles, districts=principal.districts)


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


# A hire and a roster are refused for the same reasons (a roster checks each person as a hire).
HIRE_ERRORS = error_responses(
    InvalidInput,
    HealthCertificateExpired,
    InstitutionNotFound,
    InstitutionNotFiled,
    PersonBanned,
    AlreadyEmployed,
    DistrictOutOfScope,
    Unauthenticated,
)


@router.post(
    "/institutions/{institution_id}/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffOut,
    summary="Hire a person onto the roster (登记从业人员)",
    description="Refused for a person on the industry-ban list (从业禁止, `person_banned`), a person already "
    "employed here (`already_employed`), an institution not filed (`institution_not_filed`) or outside the "
    "officer's districts (`district_out_of_scope`). The ID number is stored encrypted and returned masked.",
    responses=HIRE_ERRORS,
)
async def hire_staff(
    institution_id: uuid.UUID,
    body: StaffHireIn,
    session: DbSession,
    officer: FilingOfficer,
    request: Request,
    response: Response,
) -> StaffOut:
    settings = _settings(request)
    try:
        view = await service.hire_staff(
            session,
            request.app.state.outbox,
            service.vault_for(settings),
            institution_id,
            _new_staff(body),
            actor=_actor(officer),
            ratios=service.carer_ratios(settings),
        )
    except PersonBanned:
        request.app.state.metrics.counter(
            "childcare_staff_banned_hire_refused", "Hires refused because the person is under an industry ban."
        ).inc()
        raise
    response.headers["Location"] = f"/v1/institutions/{institution_id}/staff/{view.id}"
    return StaffOut(**asdict(view))


def _new_staff(body: StaffHireIn) -> service.NewStaff:
    return service.NewStaff(
        name=body.name,
        id_number=body.id_number,
        role=body.role,
        certificates=[
            service.NewCertificate(kind=c.kind, number=c.number, expires_on=c.expires_on) for c in body.certificates
        ],
        health_certificate_expires_on=body.health_certificate_expires_on,
        training=[service.NewTraining(hours=t.hours, date=t.date, topic=t.topic) for t in body.training],
        hired_on=body.hired_on,
    )


@router.post(
    "/institutions/{institution_id}/staff/roster",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffPage,
    summary="Register several people at once (登记从业人员名册)",
    description="The roster as an institution registers it: every person is checked as by `POST …/staff` "
    "(industry ban, double employment, health certificate), and all are hired or none (an error's `field` "
    "names the person, `items.<i>.…`). One `StaffHired` event per person; the staffing is assessed once, on "
    "the roster as it then stands.",
    responses=HIRE_ERRORS,
)
async def hire_roster(
    institution_id: uuid.UUID,
    body: StaffRosterIn,
    session: DbSession,
    officer: FilingOfficer,
    request: Request,
) -> StaffPage:
    settings = _settings(request)
    try:
        views = await service.hire_roster(
            session,
            request.app.state.outbox,
            service.vault_for(settings),
            institution_id,
            [_new_staff(item) for item in body.items],
            actor=_actor(officer),
            ratios=service.carer_ratios(settings),
            field_prefix=lambda i: f"items.{i}.",
        )
    except PersonBanned:
        request.app.state.metrics.counter(
            "childcare_staff_banned_hire_refused", "Hires refused because the person is under an industry ban."
        ).inc()
        raise
    return StaffPage(items=[StaffOut(**asdict(view)) for view in views], total=len(views))


@router.delete(
    "/institutions/{institution_id}/staff/{staff_id}",
    response_model=StaffOut,
    summary="Record that a person left (离职)",
    description="Ends the employment (the record stays, with `left_on`). `left_on` defaults to today (Beijing).",
    responses=error_responses(
        InvalidInput, InstitutionNotFound, StaffNotFound, AlreadyLeft, DistrictOutOfScope, Unauthenticated
    ),
)
async def leave_staff(
    institution_id: uuid.UUID,
    staff_id: uuid.UUID,
    session: DbSession,
    officer: FilingOfficer,
    request: Request,
    left_on: Annotated[date | None, Query(description="离职日期; default today (Beijing)")] = None,
    reason: Annotated[FreeText | None, Query(min_length=1, max_length=500, description="离职原因")] = None,
) -> StaffOut:
    settings = _settings(request)
    view = await service.leave_staff(
        session,
        request.app.state.outbox,
        institution_id,
        staff_id,
        actor=_actor(officer),
        ratios=service.carer_ratios(settings),
        left_on=left_on,
        reason=reason,
    )
    return StaffOut(**asdict(view))


@router.get(
    "/institutions/{institution_id}/staff",
    response_model=StaffPage,
    summary="The institution's roster (ID numbers masked)",
    responses=error_responses(InstitutionNotFound, Unauthenticated, Forbidden),
)
async def list_staff(
    institution_id: uuid.UUID,
    session: DbSession,
    reader: Reader,
    include_left: Annotated[bool, Query(description="also list people who have left")] = False,
) -> StaffPage:
    await require_institution_readable(session, reader, institution_id)
    views = await service.list_staff(session, institution_id, include_left=include_left)
    return StaffPage(items=[StaffOut(**asdict(v)) for v in views], total=len(views))


@router.get(
    "/institutions/{institution_id}/staff/{staff_id}",
    response_model=StaffDetailOut,
    summary="One staff member (clear ID number only for a filing officer of the district)",
    responses=error_responses(InstitutionNotFound, StaffNotFound, Unauthenticated, Forbidden),
)
async def get_staff(
    institution_id: uuid.UUID, staff_id: uuid.UUID, session: DbSession, reader: Reader, request: Request
) -> StaffDetailOut:
    await require_institution_readable(session, reader, institution_id)
    view = await service.get_staff_detail(
        session, service.vault_for(_settings(request)), institution_id, staff_id, actor=_actor(reader)
    )
    return StaffDetailOut(**asdict(view))


@router.get(
    "/institutions/{institution_id}/staffing",
    response_model=StaffingOut,
    summary="Staffing against the filed classes (carer ratios, principal, health staff)",
    responses=error_responses(InstitutionNotFound, Unauthenticated, Forbidden),
)
async def get_staffing(institution_id: uuid.UUID, session: DbSession, reader: Reader, request: Request) -> StaffingOut:
    await require_institution_readable(session, reader, institution_id)
    view = await service.get_staffing(session, institution_id, service.carer_ratios(_settings(request)))
    return StaffingOut(**asdict(view))
