from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.filing.access import require_document_readable
from services.filing.errors import InstitutionNotFound
from services.filing.institutions import repository, service
from services.filing.institutions.errors import (
    ChangePending,
    DistrictOutOfScope,
    DocumentNotFound,
    IllegalTransition,
    SelfDecision,
    UsccAlreadyFiled,
)
from services.filing.institutions.schemas import (
    ChangeResultOut,
    DecisionIn,
    DeregistrationIn,
    DocumentOut,
    InstitutionChangeIn,
    InstitutionCreate,
    InstitutionOut,
    InstitutionPage,
    PendingChangeOut,
)
from services.filing.models import Institution, InstitutionChange
from services.filing.settings import FilingSettings
from services.filing.staff.service import carer_ratios
from shared import duties
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.documents import DEFAULT_MAX_BYTES, MAGIC, PayloadTooLarge, UnsupportedMediaType, read_upload
from shared.edge import DOCUMENT_CSP
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.scope import read_scope, require_readable
from shared.workdays import WorkdayCalendar

router = APIRouter(prefix="/v1", tags=["institutions"])

FilingOfficer = Annotated[Principal, Depends(require_roles("filing_officer"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "ops"))]


def _rules(request: Request) -> service.FilingRules:
    """The filing rules of this app's settings, built once (the settings do not change)."""
    settings = request.app.state.settings
    cached: tuple[object, service.FilingRules] | None = getattr(request.app.state, "filing_rules", None)
    if cached is None or cached[0] is not settings:
        cached = (settings, _rules_of(settings))
        request.app.state.filing_rules = cached
    return cached[1]


def _rules_of(settings: object) -> service.FilingRules:
    if isinstance(settings, FilingSettings):
        calendar = WorkdayCalendar(settings.extra_holidays, settings.extra_workdays)
        return service.FilingRules(
            calendar=calendar,
            decision_working_days=settings.decision_working_days,
            carer_ratios=carer_ratios(settings),
        )
    return service.FilingRules(calendar=WorkdayCalendar())


def _out(institution: Institution, change: InstitutionChange | None = None) -> InstitutionOut:
    out = InstitutionOut.model_validate(institution, from_attributes=True)
    out.pending_change = _change_out(change)
    return out


def _change_out(change: InstitutionChange | None) -> PendingChangeOut | None:
    if change is None:
        return None
    return PendingChangeOut(
        change_id=change.id,
        changes=change.changes,
        requested_at=change.requested_at,
        decision_due=change.decision_due,
        decision_due_provisional=change.decision_due_provisional,
    )


WRITE_ERRORS = error_responses(InvalidInput, Unauthenticated, Forbidden, DistrictOutOfScope)


@router.post(
    "/institutions",
    status_code=status.HTTP_201_CREATED,
    response_model=InstitutionOut,
    summary="Submit an institution's filing (提交备案)",
    responses={**WRITE_ERRORS, **error_responses(UsccAlreadyFiled, DocumentNotFound)},
)
async def submit_institution(
    body: InstitutionCreate, session: DbSession, officer: FilingOfficer, request: Request, response: Response
) -> InstitutionOut:
    institution = await service.submit(session, request.app.state.outbox, _rules(request), body, officer=officer)
    response.headers["Location"] = f"/v1/institutions/{institution.id}"
    return _out(institution)


@router.put(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    summary="Resubmit a filing returned for correction (补正后重新提交); restarts the decision clock",
    responses={**WRITE_ERRORS, **error_responses(InstitutionNotFound, IllegalTransition, DocumentNotFound)},
)
async def resubmit_institution(
    institution_id: uuid.UUID, body: InstitutionCreate, session: DbSession, officer: FilingOfficer, request: Request
) -> InstitutionOut:
    institution = await service.resubmit(
        session, request.app.state.outbox, _rules(request), institution_id, body, officer=officer
    )
    return _out(institution)


@router.post(
    "/institutions/{institution_id}/decision",
    response_model=InstitutionOut,
    summary="Decide a submission or a pending change: file (予以备案), return (退回补正) or reject (不予备案)",
    description="Separation of duties (`FILING_SOD_DECIDER_NOT_SUBMITTER`, on by default): the officer who "
    "submitted the filing (or requested the change) on the institution's behalf gets 403 `filing_self_decision`. "
    "A pending change of a suspended (暂停收托) institution is not decided: 409 `change_decision_suspended`.",
    responses={**WRITE_ERRORS, **error_responses(SelfDecision, InstitutionNotFound, IllegalTransition)},
)
async def decide(
    institution_id: uuid.UUID, body: DecisionIn, session: DbSession, officer: FilingOfficer, request: Request
) -> InstitutionOut:
    institution = await service.decide(
        session,
        request.app.state.outbox,
        _rules(request),
        institution_id,
        decision=body.decision,
        reason=body.reason,
        officer=officer,
        decider_not_submitter=duties.enabled(request.app.state.settings, "filing.decider_not_submitter"),
    )
    request.app.state.metrics.counter("childcare_filing_decisions", "Filing decisions taken.", ("decision",)).labels(
        decision=body.decision
    ).inc()
    return _out(institution, await repository.pending_change(session, institution.id))


@router.post(
    "/institutions/{institution_id}/changes",
    response_model=ChangeResultOut,
    summary="Change a filed institution (变更): minor fields apply at once, key fields await a decision",
    responses={**WRITE_ERRORS, **error_responses(InstitutionNotFound, IllegalTransition, ChangePending)},
)
async def change_institution(
    institution_id: uuid.UUID, body: InstitutionChangeIn, session: DbSession, officer: FilingOfficer, request: Request
) -> ChangeResultOut:
    requested = body.model_dump(exclude_unset=True)
    if any(v is None for k, v in requested.items() if k != "contact_phone"):
        field = next(k for k, v in requested.items() if v is None and k != "contact_phone")
        raise InvalidInput("该字段不能为空", code="null_not_allowed", field=field)
    if "classes" in requested:
        requested["classes"] = [dict(c) for c in requested["classes"]]
    outcome = await service.request_change(
        session, request.app.state.outbox, _rules(request), institution_id, requested, officer=officer
    )
    institution, pending = await service.get(session, institution_id)
    return ChangeResultOut(
        applied_fields=outcome.applied_fields,
        pending_change=_change_out(outcome.pending),
        institution=_out(institution, pending),
    )


@router.post(
    "/institutions/{institution_id}/deregistration",
    response_model=InstitutionOut,
    summary="Deregister a filed institution (注销)",
    responses={**WRITE_ERRORS, **error_responses(InstitutionNotFound, IllegalTransition)},
)
async def deregister(
    institution_id: uuid.UUID, body: DeregistrationIn, session: DbSession, officer: FilingOfficer, request: Request
) -> InstitutionOut:
    institution = await service.deregister(
        session, request.app.state.outbox, institution_id, reason=body.reason, officer=officer
    )
    return _out(institution)


@router.get(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    summary="One institution as filed, with any pending change",
    responses=error_responses(InstitutionNotFound, Unauthenticated, Forbidden),
)
async def get_institution(institution_id: uuid.UUID, session: DbSession, reader: Reader) -> InstitutionOut:
    institution, change = await service.get(session, institution_id)
    require_readable(reader, institution.district_code, field="institution_id")  # 403 outside a filing officer's
    return _out(institution, change)


@router.get(
    "/institutions",
    response_model=InstitutionPage,
    summary="Work queue: institutions in the caller's districts, earliest decision due first",
    responses=error_responses(Unauthenticated, Forbidden),
)
async def list_institutions(
    session: DbSession,
    reader: Reader,
    status_filter: Annotated[
        Literal["submitted", "filed", "suspended", "returned", "rejected", "deregistered"] | None,
        Query(alias="status"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InstitutionPage:
    # Filing officers see their own districts; supervisors and operations see the city (shared.scope).
    codes = read_scope(reader)
    scope = sorted(codes) if codes is not None else None
    rows, total = await repository.list_institutions(
        session, districts=scope, status=status_filter, offset=(page - 1) * page_size, limit=page_size
    )
    return InstitutionPage(items=[_out(r) for r in rows], total=total, page=page, page_size=page_size)


# --- documents (content-addressed) -------------------------------------------------------------


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentOut,
    summary="Upload a filing document (PDF, JPEG or PNG, raw body); stored by its SHA-256",
    responses={**error_responses(InvalidInput, Unauthenticated, Forbidden, PayloadTooLarge, UnsupportedMediaType)},
)
async def upload_document(request: Request, session: DbSession, officer: FilingOfficer) -> DocumentOut:
    settings = request.app.state.settings
    upload = await read_upload(
        request,
        max_bytes=getattr(settings, "document_max_bytes", DEFAULT_MAX_BYTES),
        media_types=getattr(settings, "document_media_types", list(MAGIC)),
    )
    await repository.store_document(
        session, sha256=upload.sha256, media_type=upload.media_type, content=upload.content, uploaded_by=officer.subject
    )
    return DocumentOut(sha256=upload.sha256, size_bytes=len(upload.content), media_type=upload.media_type)


@router.get(
    "/documents/{sha256}",
    summary="Download a filing document",
    response_class=Response,
    responses=error_responses(DocumentNotFound, Unauthenticated, Forbidden),
)
async def download_document(sha256: str, session: DbSession, reader: Reader) -> Response:
    blob = await repository.get_document(session, sha256.lower())
    if blob is None:
        raise DocumentNotFound(field="sha256")
    await require_document_readable(session, reader, blob.sha256, blob.uploaded_by)
    # an attachment, never rendered in the platform's origin (nosniff and the sandbox CSP: shared/edge.py)
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(blob.media_type, "bin")
    return Response(
        blob.content,
        media_type=blob.media_type,
        headers={
            "ETag": f'"{blob.sha256}"',
            "Content-Disposition": f'attachment; filename="{blob.sha256}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": DOCUMENT_CSP,
        },
    )
