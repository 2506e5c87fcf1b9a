"""Complaints: the public endpoints (no login, rate-limited) and the supervisors' triage and stats."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import AfterValidator

from services.inspection.common import district_code, district_name, now_of, settings_of
from services.inspection.complaints import ratelimit, service
from services.inspection.complaints.errors import ComplaintAlreadyTriaged, ComplaintNotFound
from services.inspection.complaints.models import Complaint
from services.inspection.complaints.ratelimit import Limit, RateLimited
from services.inspection.complaints.schemas import (
    CATEGORY_ZH,
    RECEIPT,
    ComplaintDetailOut,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    ComplaintStatsOut,
    DistrictStats,
    PublicStatusOut,
    ReceiptOut,
    TriageIn,
)
from services.inspection.errors import InspectorNotFound, InstitutionNotInPool
from services.inspection.unlicensed.errors import CaseClosed
from shared.auth import Principal, require_roles
from shared.db import Database, DbSession
from shared.edge import client_ip
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.reference import districts
from shared.workdays import CHINA as BEIJING

router = APIRouter(prefix="/v1", tags=["complaints"])
Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
AUTH = error_responses(Unauthenticated, Forbidden)
LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": "rate_limited (Retry-After header)"}}


async def _limit(request: Request, scope: str, per_ip: Limit, overall: Limit | None) -> None:
    """Take a token from the client's bucket (then the global one) in a transaction of its own."""
    settings = settings_of(request)
    db: Database = request.app.state.db
    now = now_of(request)
    key = ratelimit.client_key(settings.pii_hmac_secret, scope, client_ip(request))
    async with db.transaction() as session:
        decision = await ratelimit.consume(session, key, per_ip, now)
        if decision.allowed and overall is not None:
            decision = await ratelimit.consume(session, f"{scope}:global", overall, now)
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)


async def complaint_limit(request: Request) -> None:
    s = settings_of(request)
    await _limit(
        request,
        "complaint",
        Limit(s.complaint_ip_burst, s.complaint_ip_per_hour),
        Limit(s.complaint_global_burst, s.complaint_global_per_hour),
    )


async def lookup_limit(request: Request) -> None:
    s = settings_of(request)
    await _limit(request, "receipt", Limit(s.receipt_lookup_ip_burst, s.receipt_lookup_ip_per_hour), None)


def _box(request: Request) -> service.ContactBox:
    return service.ContactBox(settings_of(request).pii_encryption_secret)


@router.post(
    "/public/complaints",
    status_code=status.HTTP_201_CREATED,
    response_model=ReceiptOut,
    tags=["public"],
    summary="投诉: report a concern about a filed institution or a place (public, no login, anonymous allowed)",
    responses={**error_responses(InvalidInput), **LIMITED},
    dependencies=[Depends(complaint_limit)],
)
async def post_complaint(body: ComplaintIn, session: DbSession, request: Request) -> ReceiptOut:
    complaint, receipt = await service.submit(
        session,
        request.app.state.outbox,
        service.ComplaintInput(
            institution_id=body.institution_id,
            district_code=body.district,
            street_code=body.street_code,
            address=body.address,
            operator_name=body.operator_name,
            category=body.category,
            description=body.description,
            contact=body.contact,
        ),
        box=_box(request),
        now=now_of(request),
    )
    return ReceiptOut(
        receipt=receipt,
        status=complaint.status,
        status_zh=service.STATUS_ZH[complaint.status],
        received_on=complaint.received_at.astimezone(BEIJING).date(),
    )


def _receipt(value: str) -> str:
    value = value.strip().upper()
    if not RECEIPT.match(value):
        raise InvalidInput("回执码应为10位字母或数字（A–Z、2–7）", code="receipt_invalid", field="receipt")
    return value


@router.get(
    "/public/complaints/{receipt}",
    response_model=PublicStatusOut,
    tags=["public"],
    summary="Follow a complaint by its receipt code: its status and public outcome, nothing else",
    responses={**error_responses(InvalidInput, ComplaintNotFound), **LIMITED},
    dependencies=[Depends(lookup_limit)],
)
async def get_public_status(receipt: Annotated[str, Path(max_length=64)], session: DbSession) -> PublicStatusOut:
    code = _receipt(receipt)
    view = await service.public_status(session, code)
    return PublicStatusOut(
        receipt=code,
        status=view.status,
        status_zh=service.STATUS_ZH[view.status],
        received_on=view.received_on,
        outcome_zh=view.outcome_zh,
    )


def _out_fields(c: Complaint) -> dict[str, object]:
    return {
        "id": c.id,
        "status": c.status,
        "category": c.category,
        "category_zh": CATEGORY_ZH.get(c.category, c.category),
        "about": "institution" if c.institution_id is not None else "address",
        "institution_id": c.institution_id,
        "institution_name": c.institution_name,
        "district_code": c.district_code,
        "district_name": district_name(c.district_code),
        "street_code": c.street_code,
        "address": c.address,
        "operator_name": c.operator_name,
        "description": c.description,
        "has_contact": c.contact_encrypted is not None,
        "received_at": c.received_at,
        "action": c.action,
        "triage_reason": c.triage_reason,
        "public_reply": c.public_reply,
        "referred_to": c.referred_to,
        "task_id": c.task_id,
        "case_id": c.case_id,
        "triaged_by": c.triaged_by,
        "triaged_at": c.triaged_at,
    }


DistrictQuery = Annotated[str | None, AfterValidator(lambda v: None if v is None else district_code(v))]


@router.get("/complaints", response_model=ComplaintPage, summary="Complaints (supervisor)", responses=AUTH)
async def list_complaints(
    session: DbSession,
    _: Supervisor,
    district: Annotated[DistrictQuery, Query(description="code or name")] = None,
    status_filter: Annotated[
        Literal["received", "investigating", "referred", "closed"] | None, Query(alias="status")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ComplaintPage:
    rows, total = await service.page(session, district=district, status=status_filter, page=page, page_size=page_size)
    return ComplaintPage(
        items=[ComplaintOut.model_validate(_out_fields(c)) for c in rows], page=page, page_size=page_size, total=total
    )


@router.get(
    "/complaints/stats",
    response_model=ComplaintStatsOut,
    summary="Complaints per district (received in [from, to), by status and category) and open unlicensed cases",
    responses={**AUTH, **error_responses(InvalidInput)},
)
async def complaint_stats(
    session: DbSession,
    _: Supervisor,
    from_: Annotated[date | None, Query(alias="from", description="first day (Beijing), inclusive")] = None,
    to: Annotated[date | None, Query(description="last day (Beijing), inclusive")] = None,
) -> ComplaintStatsOut:
    if from_ is not None and to is not None and from_ > to:
        raise InvalidInput("起始日期不能晚于结束日期", code="range_reversed", field="from")
    since = datetime.combine(from_, time(), BEIJING).astimezone(UTC) if from_ else None
    until = datetime.combine(to + timedelta(days=1), time(), BEIJING).astimezone(UTC) if to else None
    counts = await service.stats(session, since=since, until=until)
    rows = []
    for code in districts():
        c = counts.get(code) or service.DistrictCounts()
        by_status = c.by_status or {}
        rows.append(
            DistrictStats(
                district_code=code,
                district_name=district_name(code),
                received=c.received,
                awaiting_triage=by_status.get("received", 0),
                investigating=by_status.get("investigating", 0),
                referred=by_status.get("referred", 0),
                closed=by_status.get("closed", 0),
                by_category=dict(sorted((c.by_category or {}).items())),
                open_unlicensed_cases=c.open_cases,
            )
        )
    return ComplaintStatsOut(
        districts=rows,
        total_received=sum(r.received for r in rows),
        total_open_unlicensed_cases=sum(r.open_unlicensed_cases for r in rows),
    )


@router.get(
    "/complaints/{complaint_id}",
    response_model=ComplaintDetailOut,
    summary="One complaint with the decrypted contact (supervisor)",
    responses={**AUTH, **error_responses(ComplaintNotFound)},
)
async def get_complaint(
    complaint_id: uuid.UUID, session: DbSession, _: Supervisor, request: Request
) -> ComplaintDetailOut:
    c = await service.get(session, complaint_id)
    contact = _box(request).open(c.contact_encrypted) if c.contact_encrypted is not None else None
    return ComplaintDetailOut.model_validate({**_out_fields(c), "contact": contact})


@router.post(
    "/complaints/{complaint_id}/triage",
    response_model=ComplaintOut,
    summary="Triage: targeted_inspection | referral | close | open_unlicensed_case, with a reason",
    responses={
        **AUTH,
        **error_responses(
            InvalidInput,
            ComplaintNotFound,
            ComplaintAlreadyTriaged,
            InstitutionNotInPool,
            InspectorNotFound,
            CaseClosed,
        ),
    },
)
async def triage(
    complaint_id: uuid.UUID, body: TriageIn, session: DbSession, supervisor: Supervisor, request: Request
) -> ComplaintOut:
    c = await service.triage(
        session,
        request.app.state.outbox,
        complaint_id,
        service.TriageInput(
            action=body.action,
            reason=body.reason,
            public_reply=body.public_reply,
            referred_to=body.referred_to,
            inspector_ids=body.inspector_ids,
            due_by=body.due_by,
            checklist_items=body.checklist_items,
            publication_working_days=settings_of(request).publication_working_days,
        ),
        by=supervisor.subject,
        now=now_of(request),
    )
    return ComplaintOut.model_validate(_out_fields(c))
