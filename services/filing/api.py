from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.filing import service
from services.filing.errors import InstitutionNotFound, UsccAlreadyFiled
from services.filing.schemas import InstitutionCreate, InstitutionOut
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["institutions"])

FilingOfficer = Annotated[Principal, Depends(require_roles("filing_officer"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "ops"))]


@router.post(
    "/institutions",
    status_code=status.HTTP_201_CREATED,
    response_model=InstitutionOut,
    summary="Submit an institution's filing (提交备案)",
    responses=error_responses(InvalidInput, UsccAlreadyFiled, Unauthenticated, Forbidden),
)
async def submit_institution(
    body: InstitutionCreate, session: DbSession, officer: FilingOfficer, request: Request, response: Response
) -> InstitutionOut:
    view = await service.submit_institution(
        session,
        request.app.state.outbox,
        service.NewInstitution(uscc=body.uscc, name=body.name, district=body.district, street_code=body.street_code),
        officer=officer.subject,
    )
    response.headers["Location"] = f"/v1/institutions/{view.id}"
    return InstitutionOut(**asdict(view))


@router.get(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    summary="One institution as filed",
    responses=error_responses(InstitutionNotFound, Unauthenticated, Forbidden),
)
async def get_institution(institution_id: uuid.UUID, session: DbSession, _: Reader) -> InstitutionOut:
    return InstitutionOut(**asdict(await service.get_institution(session, institution_id)))
