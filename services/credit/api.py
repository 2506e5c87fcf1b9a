from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends

from services.credit import service
from services.credit.errors import CreditRecordNotFound
from services.credit.schemas import CreditRecordOut
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, Unauthenticated, error_responses

router = APIRouter(prefix="/v1/credit", tags=["credit"])

CreditReader = Annotated[Principal, Depends(require_roles("credit_officer", "supervisor", "ops"))]


@router.get(
    "/institutions/{institution_id}",
    response_model=CreditRecordOut,
    summary="An institution's credit record (诚信档案)",
    responses=error_responses(CreditRecordNotFound, Unauthenticated, Forbidden),
)
async def institution_record(institution_id: uuid.UUID, session: DbSession, _: CreditReader) -> CreditRecordOut:
    view = await service.get_record(session, "institution", str(institution_id))
    return CreditRecordOut.model_validate(asdict(view))
