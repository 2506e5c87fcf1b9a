"""Photo evidence of a field task: the inspectors' app uploads the (resized) photo's bytes, names it
by its SHA-256 in a finding or a violation, and shows it as a thumbnail.

Content-addressed: ``POST /v1/tasks/{id}/evidence`` with the raw JPEG or PNG answers the SHA-256 of
the bytes (201 the first time, 200 when the task already holds them), so a retry never stores a
photo twice and needs no ``Idempotency-Key``. The type is sniffed from the bytes (shared/sniff.py),
the size bounded by ``max_request_body_bytes`` (1 MiB; the app resizes photos on the phone first).
Only the task's active team uploads; the team, supervisors and operations read.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.inspection.common import now_of
from services.inspection.errors import NotOnTeam, TaskClosed, TaskNotFound
from services.inspection.evidence.models import TaskEvidence
from services.inspection.tasks import service
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.documents import PayloadTooLarge, UnsupportedMediaType, read_upload
from shared.edge import DOCUMENT_CSP
from shared.errors import AppError, Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

MEDIA_TYPES = ["image/jpeg", "image/png"]
MAX_BYTES = 1024 * 1024
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")]


class EvidenceNotFound(AppError):
    status_code = 404
    code = "evidence_not_found"
    message_zh = "未找到该证据照片"


class EvidenceOut(BaseModel):
    task_id: uuid.UUID
    sha256: str
    media_type: str
    size_bytes: int


@router.post(
    "/{task_id}/evidence",
    status_code=201,
    response_model=EvidenceOut,
    summary="Upload a photo as evidence of a task (raw JPEG or PNG body, at most 1 MiB); named by its SHA-256",
    responses=error_responses(
        InvalidInput, PayloadTooLarge, UnsupportedMediaType, TaskNotFound, TaskClosed, NotOnTeam, Unauthenticated,
        Forbidden,
    ),
)  # fmt: skip
async def upload_evidence(
    task_id: uuid.UUID,
    request: Request,
    session: DbSession,
    inspector: Annotated[Principal, Depends(require_roles("inspector"))],
) -> JSONResponse:
    a = await service.access(session, task_id, inspector, write=True)
    if a.task.status in service.CLOSED:
        raise TaskClosed()
    upload = await read_upload(request, max_bytes=MAX_BYTES, media_types=MEDIA_TYPES)
    inserted = await session.execute(
        pg_insert(TaskEvidence)
        .values(
            task_id=task_id,
            sha256=upload.sha256,
            media_type=upload.media_type,
            size_bytes=len(upload.content),
            content=upload.content,
            uploaded_by=inspector.subject,
            uploaded_at=now_of(request),
        )
        .on_conflict_do_nothing()
        .returning(TaskEvidence.sha256)
    )
    created = inserted.scalar_one_or_none() is not None
    out = EvidenceOut(
        task_id=task_id, sha256=upload.sha256, media_type=upload.media_type, size_bytes=len(upload.content)
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/{task_id}/evidence/{sha256}",
    response_class=Response,
    summary="A photo of a task's evidence (its bytes; cacheable for good: the URL names the content)",
    responses=error_responses(EvidenceNotFound, TaskNotFound, NotOnTeam, Unauthenticated, Forbidden),
)
async def get_evidence(
    task_id: uuid.UUID,
    sha256: Sha256Path,
    session: DbSession,
    reader: Annotated[Principal, Depends(require_roles("inspector", "supervisor", "ops"))],
) -> Response:
    await service.access(session, task_id, reader, write=False)
    evidence = await session.scalar(
        select(TaskEvidence).where(TaskEvidence.task_id == task_id, TaskEvidence.sha256 == sha256.lower())
    )
    if evidence is None:
        raise EvidenceNotFound()
    return Response(
        evidence.content,
        media_type=evidence.media_type,
        headers={
            "ETag": f'"{evidence.sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Security-Policy": DOCUMENT_CSP,
        },
    )
