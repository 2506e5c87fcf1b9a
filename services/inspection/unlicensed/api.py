"""Unlicensed-operator cases (supervisors; operations read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.common import district_code, district_name, now_of
from services.inspection.unlicensed import service
from services.inspection.unlicensed.errors import CaseClosed, CaseNotFound, StepAlreadyCompleted, StepNotFound
from services.inspection.unlicensed.models import GuidanceStepRow, UnlicensedCase
from services.inspection.unlicensed.schemas import (
    CaseOut,
    CasePage,
    CloseDownIn,
    CompleteStepIn,
    PlanIn,
    SiteUpdateIn,
    StepOut,
)
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.workdays import china_today

router = APIRouter(prefix="/v1/unlicensed-cases", tags=["unlicensed"])
Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
Reader = Annotated[Principal, Depends(require_roles("supervisor", "ops"))]
AUTH = error_responses(Unauthenticated, Forbidden)
WRITE = {**AUTH, **error_responses(InvalidInput, CaseNotFound, CaseClosed)}


def case_out(case: UnlicensedCase, steps: Sequence[GuidanceStepRow], today: date) -> CaseOut:
    step_rows = [
        StepOut(
            id=s.id,
            position=s.position,
            title_zh=s.title_zh,
            due_on=s.due_on,
            note=s.note,
            completed_by=s.completed_by,
            completed_at=s.completed_at,
            overdue=s.completed_at is None and case.status == "open" and s.due_on < today,
        )
        for s in steps
    ]
    return CaseOut(
        id=case.id,
        status=case.status,
        status_zh=service.STATUS_ZH[case.status],
        source=case.source,
        complaint_id=case.complaint_id,
        violation_id=case.violation_id,
        district_code=case.district_code,
        district_name=district_name(case.district_code),
        street_code=case.street_code,
        address=case.address,
        operator_name=case.operator_name,
        uscc=case.uscc,
        latitude=case.latitude,
        longitude=case.longitude,
        institution_id=case.institution_id,
        enforcement=case.enforcement,
        opened_by=case.opened_by,
        opened_at=case.opened_at,
        closed_by=case.closed_by,
        closed_at=case.closed_at,
        overdue_steps=sum(1 for s in step_rows if s.overdue),
        steps=step_rows,
    )


async def _out(session: AsyncSession, case: UnlicensedCase, request: Request) -> CaseOut:
    return case_out(case, await service.steps(session, case.id), china_today(now_of(request)))


DistrictQuery = Annotated[str | None, AfterValidator(lambda v: None if v is None else district_code(v))]


@router.get("", response_model=CasePage, summary="Unlicensed-operator cases", responses=AUTH)
async def list_cases(
    session: DbSession,
    _: Reader,
    request: Request,
    district: Annotated[DistrictQuery, Query(description="code or name")] = None,
    status: Annotated[Literal["open", "filed", "closed_down"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CasePage:
    rows, total = await service.list_cases(session, district=district, status=status, page=page, page_size=page_size)
    return CasePage(items=[await _out(session, c, request) for c in rows], page=page, page_size=page_size, total=total)


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    summary="A case with its guidance plan (一园一策)",
    responses={**AUTH, **error_responses(CaseNotFound)},
)
async def get_case(case_id: uuid.UUID, session: DbSession, _: Reader, request: Request) -> CaseOut:
    return await _out(session, await service.get(session, case_id), request)


@router.patch(
    "/{case_id}",
    response_model=CaseOut,
    summary="Record the operator's identity and location (closes the case as filed if that filing is known)",
    responses=WRITE,
)
async def update_case(
    case_id: uuid.UUID, body: SiteUpdateIn, session: DbSession, _: Supervisor, request: Request
) -> CaseOut:
    changes = body.model_dump(exclude_unset=True)
    case = await service.update_site(session, request.app.state.outbox, case_id, changes, now=now_of(request))
    return await _out(session, case, request)


@router.put(
    "/{case_id}/plan",
    response_model=CaseOut,
    summary="Set the guidance plan's open steps (completed steps stay as they were)",
    responses={**WRITE, **error_responses(StepNotFound, StepAlreadyCompleted)},
)
async def put_plan(
    case_id: uuid.UUID, body: PlanIn, session: DbSession, supervisor: Supervisor, request: Request
) -> CaseOut:
    case = await service.get(session, case_id, lock=True)
    await service.set_plan(
        session,
        request.app.state.outbox,
        case,
        [service.StepInput(title_zh=s.title_zh, due_on=s.due_on, step_id=s.step_id, note=s.note) for s in body.steps],
        by=supervisor.subject,
        now=now_of(request),
    )
    return await _out(session, case, request)


@router.post(
    "/{case_id}/steps/{step_id}/complete",
    response_model=CaseOut,
    summary="Mark a guidance step done",
    responses={**WRITE, **error_responses(StepNotFound, StepAlreadyCompleted)},
)
async def complete_step(
    case_id: uuid.UUID,
    step_id: uuid.UUID,
    session: DbSession,
    supervisor: Supervisor,
    request: Request,
    body: CompleteStepIn | None = None,
) -> CaseOut:
    await service.complete_step(
        session,
        request.app.state.outbox,
        case_id,
        step_id,
        note=body.note if body else None,
        by=supervisor.subject,
        now=now_of(request),
    )
    return await _out(session, await service.get(session, case_id), request)


@router.post(
    "/{case_id}/close-down",
    response_model=CaseOut,
    summary="Close the case as closed down (依法关停), with the enforcement record",
    responses=WRITE,
)
async def close_down(
    case_id: uuid.UUID, body: CloseDownIn, session: DbSession, supervisor: Supervisor, request: Request
) -> CaseOut:
    case = await service.close_down(
        session, request.app.state.outbox, case_id, body.record(), by=supervisor.subject, now=now_of(request)
    )
    return await _out(session, case, request)
