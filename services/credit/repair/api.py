"""Credit repair (信用修复): applications, evidence documents, decisions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from services.credit.access import CreditOfficer, CreditReader, Sha256Path, credit_env, duty
from services.credit.errors import (
    EntryNotCounting,
    EntryNotFound,
    EvidenceNotFound,
    EvidenceNotUploaded,
    RectificationOpen,
    RepairAlreadyDecided,
    RepairExists,
    RepairNotFound,
    RepairSelfDecision,
    RepairTooEarly,
    RuleNotRepairable,
)
from services.credit.models import CreditEvidence
from services.credit.repair import service as repair_service
from services.credit.schemas import (
    EvidenceOut,
    RepairDecisionIn,
    RepairIn,
    RepairOut,
    repair_out,
)
from services.credit.settings import CreditSettings
from shared.db import DbSession
from shared.documents import DEFAULT_MAX_BYTES, MAGIC, PayloadTooLarge, UnsupportedMediaType, read_upload
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1/credit", tags=["credit"])


@router.post(
    "/repairs",
    status_code=status.HTTP_201_CREATED,
    response_model=RepairOut,
    summary="Apply for credit repair (信用修复申请) of one entry, with evidence",
    description="Refused when the policy does not allow repair of the entry's rule (`credit_entry_not_repairable`, "
    "e.g. child abuse), before the minimum publication period (`credit_repair_too_early`), when the entry no "
    "longer counts (`credit_entry_not_counting`) or already has an open or approved repair (`credit_repair_exists`). "
    "Every `evidence_sha256` must be a document uploaded for the entry (POST /v1/credit/entries/{entry_id}/evidence; "
    "409 `credit_evidence_not_uploaded`, `CREDIT_SOD_REPAIR_EVIDENCE_UPLOADED`).",
    responses=error_responses(
        InvalidInput,
        EntryNotFound,
        RuleNotRepairable,
        RepairTooEarly,
        EntryNotCounting,
        RepairExists,
        EvidenceNotUploaded,
        Unauthenticated,
        Forbidden,
    ),
)
async def apply_for_repair(body: RepairIn, session: DbSession, officer: CreditOfficer, request: Request) -> RepairOut:
    repair = await repair_service.apply_for_repair(
        session,
        request.app.state.outbox,
        credit_env(request),
        entry_id=body.entry_id,
        evidence_sha256=body.evidence_sha256,
        commitment_zh=body.commitment,
        applied_by=officer.subject,
        evidence_uploaded=duty(request, "credit.repair_evidence_uploaded"),
    )
    return repair_out(repair)


def _evidence_out(e: CreditEvidence) -> EvidenceOut:
    return EvidenceOut(
        entry_id=e.entry_id,
        sha256=e.sha256,
        media_type=e.media_type,
        size_bytes=e.size_bytes,
        uploaded_by=e.uploaded_by,
        uploaded_at=e.uploaded_at,
    )


@router.post(
    "/entries/{entry_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceOut,
    summary="Upload an evidence document for the repair of an entry (PDF, JPEG or PNG, raw body)",
    description="Stored with the SHA-256 of its bytes; a repair application of the entry names it in "
    "`evidence_sha256`.",
    responses=error_responses(
        InvalidInput, EntryNotFound, PayloadTooLarge, UnsupportedMediaType, Unauthenticated, Forbidden
    ),
)
async def upload_evidence(
    entry_id: uuid.UUID, request: Request, session: DbSession, officer: CreditOfficer
) -> EvidenceOut:
    settings = request.app.state.settings
    credit = settings if isinstance(settings, CreditSettings) else None
    upload = await read_upload(
        request,
        max_bytes=credit.evidence_max_bytes if credit else DEFAULT_MAX_BYTES,
        media_types=credit.evidence_media_types if credit else list(MAGIC),
    )
    evidence = await repair_service.upload_evidence(
        session,
        credit_env(request),
        entry_id=entry_id,
        content=upload.content,
        media_type=upload.media_type,
        sha256=upload.sha256,
        uploaded_by=officer.subject,
    )
    return _evidence_out(evidence)


@router.get(
    "/entries/{entry_id}/evidence/{sha256}",
    summary="Download an evidence document of an entry",
    response_class=Response,
    responses=error_responses(EvidenceNotFound, InvalidInput, Unauthenticated, Forbidden),
)
async def download_evidence(entry_id: uuid.UUID, sha256: Sha256Path, session: DbSession, _: CreditReader) -> Response:
    evidence = await repair_service.get_evidence(session, entry_id, sha256.lower())
    return Response(evidence.content, media_type=evidence.media_type, headers={"ETag": f'"{evidence.sha256}"'})


@router.get(
    "/repairs/{repair_id}",
    response_model=RepairOut,
    summary="A credit-repair application",
    responses=error_responses(RepairNotFound, Unauthenticated, Forbidden),
)
async def get_repair(repair_id: uuid.UUID, session: DbSession, _: CreditReader) -> RepairOut:
    return repair_out(await repair_service.get_repair(session, repair_id))


@router.post(
    "/repairs/{repair_id}/decision",
    response_model=RepairOut,
    summary="Approve or refuse a credit repair, with reasons (credit officer)",
    description="An approval stops the entry counting from the decision on; the subject is re-graded at once. "
    "Separation of duties (shared/duties.py, each on by default): the officer who applied gets 403 "
    "`credit_repair_self_decision` (`CREDIT_SOD_REPAIR_DECIDER_NOT_APPLICANT`); an approval of an entry caused by a "
    "violation whose rectification is not yet verified gets 409 `credit_rectification_open` "
    "(`CREDIT_SOD_REPAIR_AFTER_RECTIFICATION`; a policy rule may exempt itself with `repair_without_rectification`).",
    responses=error_responses(
        InvalidInput,
        RepairNotFound,
        RepairAlreadyDecided,
        RepairSelfDecision,
        RectificationOpen,
        Unauthenticated,
        Forbidden,
    ),
)
async def decide_repair(
    repair_id: uuid.UUID, body: RepairDecisionIn, session: DbSession, officer: CreditOfficer, request: Request
) -> RepairOut:
    repair = await repair_service.decide_repair(
        session,
        request.app.state.outbox,
        credit_env(request),
        repair_id=repair_id,
        approve=body.decision == "approve",
        reason=body.reason,
        decided_by=officer.subject,
        decider_not_applicant=duty(request, "credit.repair_decider_not_applicant"),
        after_rectification=duty(request, "credit.repair_after_rectification"),
    )
    return repair_out(repair)
