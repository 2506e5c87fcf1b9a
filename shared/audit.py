"""The audit trail: every write records who (subject, roles, districts), what (method, route
template, path parameters, and the ids the body names when the path names none) and when, in an
append-only ``audit_log`` table of the service's own database.

* A write that succeeds (``outcome`` ``committed``) is recorded in the same transaction as the
  write itself: both commit or neither does.
* A write refused to an authenticated caller (any 4xx answer: 403 ``district_out_of_scope``, 403
  ``role_required``, 409, 422, …; ``outcome`` ``refused``) is recorded with its status and error
  code in a short transaction of its own, after the request's transaction has rolled back, and
  logged. Refusals without a verified caller (401, and the anonymous public forms' 4xx) are not
  recorded: anyone can send them, so they would let anyone fill the table.

Request bodies are not recorded: they can hold personal data; the events and the service's tables
hold what changed. Of the body only ``targets`` are kept: the top-level fields named ``…_id`` or
``…_ids`` whose values are UUIDs (``institution_id`` of ``POST /v1/quality/assessments``,
``entry_id`` of a credit repair), never other values.

``GET /v1/audit`` lets operations read it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from shared.auth import Principal, require_roles
from shared.db import NAMING_CONVENTION, Database, DbSession, driver_connection
from shared.errors import AppError

if TYPE_CHECKING:
    from alembic.operations import Operations

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_TARGETS = 50  # ids kept per body field (a list of ids is cut there; ``…`` marks the cut)

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
    Column("outcome", Text, nullable=False, server_default="committed"),
    Column("error_code", Text),
    Column("targets", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
)


# built once: every write executes this same statement (and its cached compiled form)
_INSERT_AUDIT = audit_table.insert().inline()  # inline: no RETURNING of the generated id
# Every committed write's row, on the request's own asyncpg connection and transaction
# (shared.db.driver_connection): a statement asyncpg prepares once per connection, without
# SQLAlchemy's per-request statement look-up and parameter processing. JSONB parameters are JSON
# text (the codec SQLAlchemy's dialect installs on its connections).
_INSERT_COMMITTED = (
    "INSERT INTO audit_log (subject, roles, districts, method, route, path_params, targets, outcome)"
    " VALUES ($1, $2::text[], $3::text[], $4, $5, $6::jsonb, $7::jsonb, 'committed')"
)


def _uuid_or_none(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def body_targets(body: Any) -> dict[str, Any]:
    """The ids a JSON body names: top-level ``…_id`` fields holding a UUID, and ``…_ids`` lists of
    UUIDs (the first ``MAX_TARGETS``). Nothing else of the body is kept."""
    if not isinstance(body, dict):
        return {}
    found: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or len(key) > 64:
            continue
        if key.endswith("_id"):
            one = _uuid_or_none(value)
            if one is not None:
                found[key] = one
        elif key.endswith("_ids") and isinstance(value, list):
            ids = [i for i in (_uuid_or_none(v) for v in value[:MAX_TARGETS]) if i is not None]
            if ids:
                found[key] = ids + (["…"] if len(value) > MAX_TARGETS else [])
    return found


def _targets(request: Request) -> dict[str, Any]:
    # the parsed JSON body, as FastAPI read it before solving the dependencies (shared.auth keeps a
    # reference in the request state, which every Request object of this request shares)
    body = getattr(request.state, "json_body", None)
    if body is None:
        body = getattr(request, "_json", None)
    return body_targets(body)


def _row(request: Request, principal: Principal | None) -> dict[str, Any]:
    route = request.scope.get("route")
    return {
        "subject": principal.subject if principal else "anonymous",
        "roles": sorted(principal.roles) if principal else [],
        "districts": list(principal.districts) if principal else [],
        "method": request.method,
        "route": getattr(route, "path", request.url.path),
        "path_params": {k: str(v) for k, v in request.path_params.items()},
        "targets": _targets(request),
    }


def install_write_audit(app: FastAPI) -> None:
    """Every committed write leaves an audit row, committed with the write itself: the request's
    unit of work (shared.db.DbSession) calls ``record_write`` just before it commits."""
    app.state.before_commit = record_write


async def record_write(session: AsyncSession, request: Request) -> None:
    """Called by the request's unit of work just before it commits a write."""
    if request.method not in WRITE_METHODS or not request.app.state.settings.audit_writes:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    row = _row(request, principal)
    driver = await driver_connection(session)
    await driver.execute(
        _INSERT_COMMITTED,
        row["subject"],
        row["roles"],
        row["districts"],
        row["method"],
        row["route"],
        orjson.dumps(row["path_params"]).decode(),
        orjson.dumps(row["targets"]).decode(),
    )


async def record_refusal(request: Request, status_code: int, error_code: str) -> None:
    """A write answered 4xx to an authenticated caller: one row in a short transaction of its own
    (the request's transaction has rolled back) and one log line. Called by the error handlers."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if request.method not in WRITE_METHODS or principal is None or not 400 <= status_code < 500:
        return
    row = {**_row(request, principal), "outcome": "refused", "status_code": status_code, "error_code": error_code}
    log.warning(
        "write refused",
        extra={
            "subject": row["subject"],
            "roles": row["roles"],
            "method": row["method"],
            "route": row["route"],
            "path_params": row["path_params"],
            "targets": row["targets"],
            "status_code": status_code,
            "error_code": error_code,
        },
    )
    if not request.app.state.settings.audit_writes:
        return
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await session.execute(_INSERT_AUDIT, row)
    except Exception:
        # the refusal stands whatever happens to its record; the log line above still names it
        log.exception("could not record a refused write in the audit trail", extra={"route": row["route"]})


Handler = Callable[[Request, Exception], Awaitable[Response]]


def install_refusal_audit(app: FastAPI) -> None:
    """Wrap the app's handlers of refusals (``AppError``, request validation) so every refused write
    is recorded; call after ``shared.errors.install_error_handlers``."""
    for exc_class in (AppError, RequestValidationError):
        original = app.exception_handlers[exc_class]
        app.add_exception_handler(exc_class, _recording(original))


def _recording(original: Callable[..., Any]) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        response: Response = await original(request, exc)
        if request.method in WRITE_METHODS:
            code = exc.code if isinstance(exc, AppError) else _validation_code(exc)
            await record_refusal(request, response.status_code, code)
        return response

    return handler


def _validation_code(exc: Exception) -> str:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return str(errors[0].get("type", "invalid_input")) if errors else "invalid_input"


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    subject: str
    roles: list[str]
    districts: list[str]
    method: str
    route: str
    path_params: dict[str, Any]
    targets: dict[str, Any]
    outcome: Literal["committed", "refused"]
    status_code: int | None
    error_code: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: int


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["operations"])

    @router.get(
        "/audit",
        response_model=AuditPage,
        summary="Who wrote what, when, and which writes were refused (append-only audit trail)",
    )
    async def read_audit(
        session: DbSession,
        _: Annotated[Principal, Depends(require_roles("ops"))],
        after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        subject: Annotated[str | None, Query(max_length=200)] = None,
        outcome: Literal["committed", "refused"] | None = None,
    ) -> AuditPage:
        query = select(audit_table).where(audit_table.c.id > after).order_by(audit_table.c.id).limit(limit)
        if subject is not None:
            query = query.where(audit_table.c.subject == subject)
        if outcome is not None:
            query = query.where(audit_table.c.outcome == outcome)
        rows = (await session.execute(query)).mappings().all()
        entries = [AuditEntryOut.model_validate(dict(r)) for r in rows]
        return AuditPage(entries=entries, next_cursor=entries[-1].id if entries else after)

    return router


# --- migrations ---------------------------------------------------------------------------------


def add_refusal_columns(op: Operations) -> None:
    """Each service's audit revision after ``create_audit_table``: outcome, error code, body targets."""
    op.add_column("audit_log", sa.Column("outcome", sa.Text, nullable=False, server_default="committed"))
    op.add_column("audit_log", sa.Column("error_code", sa.Text))
    op.add_column("audit_log", sa.Column("targets", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    op.create_check_constraint(op.f("ck_audit_log_outcome"), "audit_log", "outcome IN ('committed', 'refused')")


def drop_refusal_columns(op: Operations) -> None:
    op.drop_constraint("ck_audit_log_outcome", "audit_log", type_="check")
    op.drop_column("audit_log", "targets")
    op.drop_column("audit_log", "error_code")
    op.drop_column("audit_log", "outcome")
