"""The scoring policy versions and the one in force."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.credit.access import CreditReader, credit_env
from services.credit.policy import service as policy_service
from services.credit.schemas import (
    PolicyListOut,
    PolicyOut,
)
from shared.db import DbSession
from shared.errors import Forbidden, Unauthenticated, error_responses

router = APIRouter(prefix="/v1/credit", tags=["credit"])


@router.get(
    "/policies",
    response_model=PolicyListOut,
    summary="Every policy version and the one in force",
    responses=error_responses(Unauthenticated, Forbidden),
)
async def policies(session: DbSession, _: CreditReader, request: Request) -> PolicyListOut:
    items, active = await policy_service.policy_versions(session, credit_env(request))
    return PolicyListOut(
        active_version=active,
        items=[
            PolicyOut(
                version=p.version,
                title=p.title_zh,
                published_on=p.published_on,
                active=p.version == active,
                base_score=p.base_score,
                grades={g.grade: g.min_score for g in p.grades},
                lowest_grade=p.lowest_grade,
            )
            for p in items
        ],
    )
