"""The audit trail: every write records who (subject, roles, districts), what (method, route
template, path parameters) and when, in an append-only ``audit_log`` table of the service's own
database, written in the same transaction as the write itself. Request bodies are not recorded:
they can hold personal data; the events and the service's tables hold what changed.

``GET /v1/audit`` lets operations read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, require_roles
from shared.db import NAMING_CONVENTION, DbSession

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

audit_metadata = MetaData(naming_convention=NAMING_CONVENTION)
audit_table = Table(
    "audit_log",
    audit_metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("subject", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("districts", ARRAY(Text), nullable=False),
    Column("method", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("path_params", JSONB, nullable=False),
    Column("status_code", Integer),
)


# built once: every write executes this same statement (and its cached compiled form)
_INSERT_AUDIT = audit_table.insert().inline()  # inline: no RETURNING of the generated id


async def record_write(session: AsyncSession, request: Request) -> None:
    """Called by the request's unit of work just before it commits a write."""
    if request.method not in WRITE_METHODS:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    await session.execute(
        _INSERT_AUDIT,
        {
            "subject": principal.subject if principal else "anonymous",
            "roles": sorted(principal.roles) if principal else [],
            "districts": list(principal.districts) if principal else [],
            "method": request.method,
            "route": getattr(route, "path", request.url.path),
            "path_params": {k: str(v) for k, v in request.path_params.items()},
        },
    )


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    subject: str
    roles: list[str]
    districts: list[str]
    method: str
    route: str
    path_params: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: int


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["operations"])

    @router.get("/audit", response_model=AuditPage, summary="Who wrote what, when (append-only audit trail)")
    async def read_audit(
        session: DbSession,
        _: Annotated[Principal, Depends(require_roles("ops"))],
        after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        subject: Annotated[str | None, Query(max_length=200)] = None,
    ) -> AuditPage:
        query = select(audit_table).where(audit_table.c.id > after).order_by(audit_table.c.id).limit(limit)
        if subject is not None:
            query = query.where(audit_table.c.subject == subject)
        rows = (await session.execute(query)).mappings().all()
        entries = [AuditEntryOut.model_validate(dict(r)) for r in rows]
        return AuditPage(entries=entries, next_cursor=entries[-1].id if entries else after)

    return router
