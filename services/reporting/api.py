from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.reporting import service
from services.reporting.errors import InvalidCursor
from services.reporting.schemas import LedgerEntryOut, LedgerPage
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["ledger"])

LedgerReader = Annotated[Principal, Depends(require_roles("agency:*", "ops", "supervisor"))]


@router.get(
    "/ledger",
    response_model=LedgerPage,
    summary="Read the shared ledger (信息共享台账) incrementally by cursor",
    responses=error_responses(InvalidCursor, Unauthenticated, Forbidden),
)
async def read_ledger(
    session: DbSession,
    _: LedgerReader,
    after: Annotated[int, Query(description="last index already seen; -1 for the start")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LedgerPage:
    views, size = await service.read_ledger(session, after=after, limit=limit)
    return LedgerPage(
        entries=[LedgerEntryOut(**asdict(v)) for v in views],
        next_cursor=views[-1].index if views else after,
        tree_size=size,
    )
