"""Work queues (待办): the lists officers act on every morning, in the service that owns each one's data.

Every service that keeps work declares its queues (``Queue``) in its own ``work`` package and mounts
``work_router(service, queues)``, which serves, under one shape for all services:

* ``GET /v1/work/queues/{queue}``: one queue's items (``WorkItem``), paginated like the platform's
  other lists (``page``, ``page_size``, ``total``), earliest deadline first (``sort=-deadline`` for
  the latest first; items without a deadline last), ``district=`` (code or name) to narrow it within
  the caller's districts;
* ``GET /v1/work/summary``: the count of every queue of that service the caller may see (the
  morning list is the sum of the services' summaries).

Who sees a queue: the roles that act on its items (``Action.role``) and the roles that oversee them
(a supervisor sees the filing officers' overdue decisions, 督办); any other caller gets 403
``role_required`` for the queue, and the summary leaves the queue out. Which items: only those in
the caller's districts (``work_districts``): a token's ``districts`` claim limits every queue to
those districts, whatever its roles (a district supervisor, a district bureau's filing officer); a
filing officer without one has no district and an empty list; a city-wide role without one (the
city's supervisor, a credit officer) sees the whole city. A ``district=`` outside the caller's
districts is 403 ``district_out_of_scope``.

Dates are Beijing dates. ``deadline`` is the date by which the action is due (the service's own
statutory or configured deadline); ``days_overdue`` is the number of calendar days past it (0 until
then) and null when the item has no deadline.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select, true
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.reference import district_by_name_or_code, districts
from shared.scope import CITY_WIDE_READERS, DistrictOutOfScope, district_codes
from shared.workdays import china_today

# --- the shape every service answers with -----------------------------------------------------------


class WorkAction(BaseModel):
    code: str = Field(description="stable code of the action the item needs, e.g. decide_filing")
    label_zh: str = Field(description="the action in Chinese, e.g. 作出备案决定")
    role: str = Field(description="the role that takes the action")


class InstitutionRef(BaseModel):
    id: uuid.UUID
    name: str


class DistrictRef(BaseModel):
    code: str
    name: str


class WorkItem(BaseModel):
    id: str = Field(description="the item's id in its queue (the resource's id, or institution:year)")
    kind: str = Field(description="what the item is: filing, change, annual_report, violation, task, …")
    title_zh: str
    institution: InstitutionRef | None = Field(description="null when the item concerns no filed institution")
    district: DistrictRef | None = Field(description="null when the item spans several districts")
    deadline: date | None = Field(description="Beijing date the action is due by; null: no deadline")
    days_overdue: int | None = Field(description="calendar days past the deadline (0 until then); null: no deadline")
    action: WorkAction
    link: str = Field(description="the API resource to act on")


class WorkQueuePage(BaseModel):
    queue: str
    title_zh: str
    items: list[WorkItem]
    total: int
    page: int
    page_size: int


class QueueCount(BaseModel):
    queue: str
    title_zh: str
    count: int
    link: str = Field(description="the queue's own list")


class WorkSummary(BaseModel):
    service: str
    as_of: date = Field(description="the Beijing date the counts are for")
    queues: list[QueueCount]


# --- what a service declares -------------------------------------------------------------------------

# a queue's SELECT, whatever its columns
QuerySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class QueueContext:
    """What a queue's query is built for: the districts the caller may see (None = the whole city),
    today's Beijing date, the caller and the app's settings."""

    districts: frozenset[str] | None
    today: date
    principal: Principal
    settings: Any
    params: dict[str, Any]


@dataclass(frozen=True)
class Action:
    code: str
    label_zh: str
    role: str

    def out(self) -> WorkAction:
        return WorkAction(code=self.code, label_zh=self.label_zh, role=self.role)


@dataclass(frozen=True)
class Queue:
    """One queue. ``query`` returns a SELECT already limited to ``ctx.districts`` with at least the
    labelled columns ``id``, ``deadline`` (date or null) and ``since`` (when the item entered the
    queue, the order among equal deadlines); ``item`` turns one of its rows into a ``WorkItem``."""

    name: str
    title_zh: str
    action: Action
    overseers: tuple[str, ...]
    query: Callable[[QueueContext], QuerySelect]
    item: Callable[[Row[Any], QueueContext], WorkItem]
    description: str = ""
    # the query parameters this queue takes besides the common ones: (name, description); "year", "days"
    extra_params: tuple[tuple[str, str], ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.action.role, *(r for r in self.overseers if r != self.action.role))


def work_districts(principal: Principal) -> frozenset[str] | None:
    """The districts whose work the caller sees: the token's districts when it names any; else the
    whole city (None) for a city-wide role and none at all for a district-bound one."""
    named = district_codes(principal.districts)
    if named:
        return named
    if any(principal.has(r) for r in CITY_WIDE_READERS) or not principal.has("filing_officer"):
        return None
    return frozenset()


def days_overdue(deadline: date | None, today: date) -> int | None:
    if deadline is None:
        return None
    return max(0, (today - deadline).days)


def district_ref(code: str | None) -> DistrictRef | None:
    if code is None:
        return None
    known = districts().get(code)
    return DistrictRef(code=code, name=known.name if known else code)


def make_item(
    queue: Queue,
    ctx: QueueContext,
    *,
    id: object,
    kind: str,
    title_zh: str,
    institution_id: uuid.UUID | None,
    institution_name: str | None,
    district_code: str | None,
    deadline: date | None,
    link: str,
    action: Action | None = None,
) -> WorkItem:
    institution = (
        InstitutionRef(id=institution_id, name=institution_name or "")
        if institution_id is not None and institution_name is not None
        else None
    )
    return WorkItem(
        id=str(id),
        kind=kind,
        title_zh=title_zh,
        institution=institution,
        district=district_ref(district_code),
        deadline=deadline,
        days_overdue=days_overdue(deadline, ctx.today),
        action=(action or queue.action).out(),
        link=link,
    )


STANDARD_COLUMNS = ("institution_id", "institution_name", "district_code", "deadline")


def item_from_row(
    queue: Queue,
    ctx: QueueContext,
    row: Row[Any],
    *,
    kind: str,
    title_zh: str,
    link: str,
    **given: Any,
) -> WorkItem:
    """``make_item`` for a row of the queue's query: ``id`` and the standard labelled columns
    (``institution_id``, ``institution_name``, ``district_code``, ``deadline``) are read from the row
    when it has them; a keyword given here wins (e.g. ``institution_id=None`` for an unlicensed site)."""
    columns = row._mapping
    values: dict[str, Any] = {"id": columns["id"], **{name: columns.get(name) for name in STANDARD_COLUMNS}}
    values.update(given)
    return make_item(queue, ctx, kind=kind, title_zh=title_zh, link=link, **values)


def in_districts(column: Any, ctx: QueueContext) -> Any:
    """The WHERE clause limiting ``column`` (a district code) to the caller's districts."""
    if ctx.districts is None:
        return true()
    return column.in_(sorted(ctx.districts))


# --- serving them ----------------------------------------------------------------------------------------


def _today(request: Request) -> date:
    # tests move time with app.state.clock, as the services' own deadlines do
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return china_today(clock() if clock is not None else datetime.now(UTC))


def _context(request: Request, principal: Principal, district: str | None, params: dict[str, Any]) -> QueueContext:
    scope = work_districts(principal)
    if district is not None:
        found = district_by_name_or_code(district)
        if found is None:
            raise InvalidInput("未知的区（请填写区划代码或区名）", code="district_unknown", field="district")
        if scope is not None and found.code not in scope:
            raise DistrictOutOfScope(f"{found.name}不在您的辖区内", field="district")
        scope = frozenset({found.code})
    return QueueContext(
        districts=scope, today=_today(request), principal=principal, settings=request.app.state.settings, params=params
    )


async def queue_page(
    session: AsyncSession, queue: Queue, ctx: QueueContext, *, sort: str, page: int, page_size: int
) -> WorkQueuePage:
    sub = queue.query(ctx).subquery()
    total = (await session.execute(select(func.count()).select_from(sub))).scalar_one()
    deadline = sub.c.deadline.desc().nulls_last() if sort == "-deadline" else sub.c.deadline.asc().nulls_last()
    rows = (
        await session.execute(
            select(sub).order_by(deadline, sub.c.since, sub.c.id).offset((page - 1) * page_size).limit(page_size)
        )
    ).all()
    return WorkQueuePage(
        queue=queue.name,
        title_zh=queue.title_zh,
        items=[queue.item(r, ctx) for r in rows],
        total=int(total),
        page=page,
        page_size=page_size,
    )


async def queue_count(session: AsyncSession, queue: Queue, ctx: QueueContext) -> int:
    sub = queue.query(ctx).subquery()
    return int((await session.execute(select(func.count()).select_from(sub))).scalar_one())


DistrictParam = Annotated[
    str | None, Query(max_length=20, description="narrow to one district of the caller's (code or name)")
]
SortParam = Annotated[
    Literal["deadline", "-deadline"], Query(description="deadline: earliest first (default); -deadline: latest first")
]
PageParam = Annotated[int, Query(ge=1, le=100_000)]
PageSizeParam = Annotated[int, Query(ge=1, le=100)]
YearParam = Annotated[int | None, Query(ge=2000, le=2100, description="only this reporting year")]
DaysParam = Annotated[int, Query(ge=1, le=366, description="look this many days back or ahead")]

# what a summary counts with: every year, the default look-back/ahead
SUMMARY_PARAMS: dict[str, Any] = {"year": None, "days": 30}

_ERRORS = error_responses(InvalidInput, Unauthenticated, Forbidden, DistrictOutOfScope)


_ANNOTATIONS: dict[str, Any] = {
    "request": Request,
    "session": DbSession,
    "district": DistrictParam,
    "sort": SortParam,
    "page": PageParam,
    "page_size": PageSizeParam,
    "year": YearParam,
    "days": DaysParam,
}


def _resolve(
    endpoint: Callable[..., Any], annotations: dict[str, Any], drop: frozenset[str] | set[str] = frozenset()
) -> None:
    signature = inspect.signature(endpoint)
    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(annotation=annotations[p.name]) for p in signature.parameters.values() if p.name not in drop
        ],
        return_annotation=inspect.Signature.empty,
    )


def _queue_route(router: APIRouter, service: str, queue: Queue) -> None:
    Caller = Annotated[Principal, Depends(require_roles(*queue.roles))]
    params = dict(queue.extra_params)

    async def list_queue(
        request: Request,
        session: DbSession,
        caller: Caller,
        district: DistrictParam = None,
        sort: SortParam = "deadline",
        page: PageParam = 1,
        page_size: PageSizeParam = 20,
        year: YearParam = None,
        days: DaysParam = 30,
    ) -> WorkQueuePage:
        extra = {k: v for k, v in {"year": year, "days": days}.items() if k in params}
        extra = {**SUMMARY_PARAMS, **extra}
        ctx = _context(request, caller, district, extra)
        return await queue_page(session, queue, ctx, sort=sort, page=page, page_size=page_size)

    # the real annotation objects (this module's annotations are strings, and Caller is local), and
    # only the parameters this queue takes in its signature (and its OpenAPI operation)
    _resolve(list_queue, {**_ANNOTATIONS, "caller": Caller}, drop={"year", "days"} - set(params))
    list_queue.__name__ = f"work_queue_{queue.name}"
    description = queue.description + "".join(f"\n\n`{k}`: {v}" for k, v in queue.extra_params)
    router.add_api_route(
        f"/work/queues/{queue.name}",
        list_queue,
        methods=["GET"],
        response_model=WorkQueuePage,
        summary=f"Work queue: {queue.title_zh} ({service})",
        description=(
            f"{description}\n\nAction: `{queue.action.code}` ({queue.action.label_zh}, {queue.action.role}). "
            f"Visible to: {', '.join(queue.roles)}."
        ).strip(),
        responses=_ERRORS,
        operation_id=f"{service}_work_queue_{queue.name}",
    )


def work_router(service: str, queues: Sequence[Queue]) -> APIRouter:
    """The service's ``/v1/work`` routes: one per queue, and the summary."""
    router = APIRouter(prefix="/v1", tags=["work"])
    for queue in queues:
        _queue_route(router, service, queue)
    roles = tuple(dict.fromkeys(r for q in queues for r in q.roles))
    Caller = Annotated[Principal, Depends(require_roles(*roles))]

    async def work_summary(
        request: Request, session: DbSession, caller: Caller, district: DistrictParam = None
    ) -> WorkSummary:
        ctx = _context(request, caller, district, dict(SUMMARY_PARAMS))
        counts = []
        for queue in queues:
            if not any(caller.has(r) for r in queue.roles):
                continue
            count = await queue_count(session, queue, ctx)
            counts.append(
                QueueCount(queue=queue.name, title_zh=queue.title_zh, count=count, link=f"/v1/work/queues/{queue.name}")
            )
        return WorkSummary(service=service, as_of=ctx.today, queues=counts)

    _resolve(work_summary, {**_ANNOTATIONS, "caller": Caller})
    router.add_api_route(
        "/work/summary",
        work_summary,
        methods=["GET"],
        response_model=WorkSummary,
        summary=f"The caller's morning list ({service}): the count of each of this service's queues it may see",
        description="Queues with their default parameters (e.g. every year, the last 30 days); "
        "`district=` narrows every count to one of the caller's districts.",
        responses=_ERRORS,
        operation_id=f"{service}_work_summary",
    )
    return router
