"""Pools (名录库): inspectors and their conflicts of interest (supervisor), the target pool (read)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import AfterValidator

from services.inspection.common import district_code, district_name, now_of
from services.inspection.errors import (
    BadgeNumberTaken,
    ConflictAlreadyDeclared,
    InspectorNotFound,
    InstitutionNotInPool,
    SubjectTaken,
)
from services.inspection.pool import repository, service
from services.inspection.pool.models import Inspector, InspectorConflict
from services.inspection.pool.schemas import (
    ConflictIn,
    ConflictOut,
    InspectorCreate,
    InspectorOut,
    InspectorPage,
    InspectorUpdate,
    PoolInstitutionOut,
    PoolPage,
)
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["pools"])

Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
Reader = Annotated[Principal, Depends(require_roles("supervisor", "ops"))]
DistrictQuery = Annotated[str | None, AfterValidator(lambda v: None if v is None else district_code(v))]
AUTH = error_responses(Unauthenticated, Forbidden)


def inspector_out(i: Inspector, flagged_task_ids: list[uuid.UUID] | None = None) -> InspectorOut:
    return InspectorOut(
        id=i.id,
        subject=i.subject,
        name=i.name,
        agency=i.agency,
        badge_number=i.badge_number,
        districts=list(i.districts),
        district_names=[district_name(d) for d in i.districts],
        active=i.active,
        created_at=i.created_at,
        flagged_task_ids=flagged_task_ids,
    )


def _conflict_out(c: InspectorConflict, removed_from_task_ids: list[uuid.UUID] | None = None) -> ConflictOut:
    return ConflictOut(
        id=c.id,
        inspector_id=c.inspector_id,
        institution_id=c.institution_id,
        reason=c.reason,
        declared_by=c.declared_by,
        declared_at=c.declared_at,
        removed_from_task_ids=removed_from_task_ids or [],
    )


@router.post(
    "/inspectors",
    status_code=status.HTTP_201_CREATED,
    response_model=InspectorOut,
    summary="Register an inspector in the inspector pool (执法检查人员名录库)",
    responses={**AUTH, **error_responses(InvalidInput, BadgeNumberTaken, SubjectTaken)},
)
async def create_inspector(
    body: InspectorCreate, session: DbSession, supervisor: Supervisor, request: Request, response: Response
) -> InspectorOut:
    inspector = await service.register_inspector(
        session,
        service.InspectorInput(
            subject=body.subject,
            name=body.name,
            agency=body.agency,
            badge_number=body.badge_number,
            districts=body.districts,
            active=body.active,
        ),
        by=supervisor,
        now=now_of(request),
    )
    response.headers["Location"] = f"/v1/inspectors/{inspector.id}"
    return inspector_out(inspector)


@router.get("/inspectors", response_model=InspectorPage, summary="The inspector pool", responses=AUTH)
async def list_inspectors(
    session: DbSession,
    _: Reader,
    district: Annotated[DistrictQuery, Query(description="code or name")] = None,
    active: bool | None = None,
) -> InspectorPage:
    rows = await repository.inspectors(session, district=district, active=active)
    return InspectorPage(items=[inspector_out(i) for i in rows], total=len(rows))


@router.patch(
    "/inspectors/{inspector_id}",
    response_model=InspectorOut,
    summary="Activate/deactivate an inspector or change the districts covered",
    description="Deactivation ends the inspector's access to every task at once (403 `inspector_inactive` on "
    "reads and writes) and flags their open tasks `needs_reassignment` (listed in `flagged_task_ids`).",
    responses={**AUTH, **error_responses(InvalidInput, InspectorNotFound)},
)
async def patch_inspector(
    inspector_id: uuid.UUID, body: InspectorUpdate, session: DbSession, _: Supervisor
) -> InspectorOut:
    if "districts" in body.model_fields_set and body.districts is None:
        raise InvalidInput("该字段不能为空", code="null_not_allowed", field="districts")
    updated = await service.update_inspector(session, inspector_id, active=body.active, districts=body.districts)
    return inspector_out(updated.inspector, updated.flagged_task_ids if body.active is False else None)


@router.post(
    "/inspectors/{inspector_id}/conflicts",
    status_code=status.HTTP_201_CREATED,
    response_model=ConflictOut,
    summary="Declare a conflict of interest (回避): the inspector is never drawn for that institution",
    description="An inspector already on an open task of the institution is taken off it at once "
    "(`inspection.task.inspector_removed.v1`; 403 `removed_from_team` on their reads and writes) and the task is "
    "flagged `needs_reassignment`.",
    responses={
        **AUTH,
        **error_responses(InvalidInput, InspectorNotFound, InstitutionNotInPool, ConflictAlreadyDeclared),
    },
)
async def create_conflict(
    inspector_id: uuid.UUID, body: ConflictIn, session: DbSession, supervisor: Supervisor, request: Request
) -> ConflictOut:
    declared = await service.declare_conflict(
        session,
        request.app.state.outbox,
        inspector_id,
        body.institution_id,
        body.reason,
        by=supervisor,
        now=now_of(request),
    )
    return _conflict_out(declared.conflict, declared.removed_from_task_ids)


@router.get(
    "/inspectors/{inspector_id}/conflicts",
    response_model=list[ConflictOut],
    summary="An inspector's declared conflicts of interest",
    responses={**AUTH, **error_responses(InspectorNotFound)},
)
async def list_conflicts(inspector_id: uuid.UUID, session: DbSession, _: Reader) -> list[ConflictOut]:
    if await repository.inspector_by_id(session, inspector_id) is None:
        raise InspectorNotFound()
    return [_conflict_out(c) for c in await repository.conflicts(session, inspector_id=inspector_id)]


@router.get(
    "/target-institutions",
    response_model=PoolPage,
    summary="The target pool (检查对象名录库): filed institutions with their current credit grade",
    responses=AUTH,
)
async def list_target_pool(
    session: DbSession, _: Reader, district: Annotated[DistrictQuery, Query(description="code or name")] = None
) -> PoolPage:
    entries = await service.target_pool(session, [district] if district else None)
    items = [
        PoolInstitutionOut(
            institution_id=e.institution.institution_id,
            name=e.institution.name,
            operating_model=e.institution.operating_model,
            district_code=e.institution.district_code,
            district_name=district_name(e.institution.district_code),
            street_code=e.institution.street_code,
            address=e.institution.address,
            credit_grade=e.grade,
        )
        for e in entries
    ]
    return PoolPage(items=items, total=len(items))
