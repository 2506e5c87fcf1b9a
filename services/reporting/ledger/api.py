from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.ledger import cosign, service
from services.reporting.ledger.errors import (
    CheckpointNotFound,
    CosignatureInvalid,
    FromAfterTo,
    IndexOutOfRange,
    InvalidCursor,
    LedgerInconsistent,
    NoDataSharingGrant,
    SizeBeyondTree,
    WitnessKeyUnknown,
)
from services.reporting.ledger.notes import Verifier
from services.reporting.ledger.schemas import (
    CheckpointCheckOut,
    CheckpointOut,
    CheckpointPage,
    ConsistencyProofOut,
    CosignatureIn,
    CosignatureOut,
    InclusionProofOut,
    LedgerPage,
    PublicKeyOut,
    VerificationOut,
    VerifierKeyOut,
)
from services.reporting.settings import ReportingSettings
from shared.auth import Principal, require_roles
from shared.db import Database, DbSession
from shared.errors import Forbidden, Unauthenticated, error_responses
from shared.grants import Grants, load_grants

# Ledger indexes and sizes are PostgreSQL bigints; anything larger is a 422, not a database error.
MAX_INDEX = 2**63 - 2

router = APIRouter(prefix="/v1", tags=["ledger"])
# Out-of-band-friendly copy of the verifier keys at a fixed, unversioned path (docs/ledger.md).
well_known_router = APIRouter(tags=["ledger"])

LedgerReader = Annotated[Principal, Depends(require_roles("agency:*", "ops", "supervisor"))]


def _settings(request: Request) -> ReportingSettings:
    return cast(ReportingSettings, request.app.state.settings)


def _grants(request: Request) -> Grants:
    return load_grants(_settings(request).grants_file)


def _access(request: Request, principal: LedgerReader) -> service.Access:
    return service.access_for(principal, _grants(request))


ReaderAccess = Annotated[service.Access, Depends(_access)]


def _verifiers(settings: ReportingSettings) -> list[Verifier]:
    return [settings.ledger_signer().verifier, *(Verifier.parse(k) for k in settings.ledger_previous_verifier_keys)]


@router.get(
    "/ledger",
    response_model=LedgerPage,
    summary="Read the shared ledger (信息共享台账) incrementally by cursor",
    responses=error_responses(InvalidCursor, Unauthenticated, NoDataSharingGrant),
)
async def read_ledger(
    session: DbSession,
    access: ReaderAccess,
    # bounded to BIGINT so nothing overflows; below -1 the service answers its own invalid_cursor
    after: Annotated[
        int, Query(ge=-(2**63), le=MAX_INDEX, description="last index already seen; -1 for the start")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LedgerPage:
    return await service.read_ledger(session, access, after=after, limit=limit)


_CSV_COLUMNS = (
    "index",
    "event_id",
    "event_source",
    "event_type",
    "subject",
    "event_time",
    "leaf_hash",
    "leaf_hash_hex",
    "data",
)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


@router.get(
    "/ledger/export",
    summary="Stream a range of the ledger as JSON Lines or CSV (grant-filtered, flat memory)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string", "description": "one entry per line"}},
                "text/csv": {"schema": {"type": "string"}},
            }
        },
        **error_responses(FromAfterTo, SizeBeyondTree, Unauthenticated, NoDataSharingGrant),
    },
)
async def export_ledger(
    request: Request,
    session: DbSession,
    access: ReaderAccess,
    start: Annotated[int, Query(alias="from", ge=0, le=MAX_INDEX, description="first index (inclusive)")] = 0,
    end: Annotated[
        int | None, Query(alias="to", ge=0, le=MAX_INDEX, description="end index (exclusive); default: tree size")
    ] = None,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
) -> Response:
    start, stop = await service.check_range(session, start, end)
    db: Database = request.app.state.db

    async def lines() -> AsyncIterator[str]:
        if format == "csv":
            yield _csv_line(list(_CSV_COLUMNS))
        async for batch in service.export_entries(db.transaction, access, start=start, stop=stop):
            chunk: list[str] = []
            for entry in batch:
                out = entry.model_dump(mode="json")
                if format == "csv":
                    out["data"] = json.dumps(out["data"], ensure_ascii=False, sort_keys=True)
                    chunk.append(_csv_line([str(out[c]) for c in _CSV_COLUMNS]))
                else:
                    chunk.append(json.dumps(out, ensure_ascii=False) + "\n")
            yield "".join(chunk)

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    filename = f"ledger-{start}-{stop}.{format}"
    return StreamingResponse(
        lines(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


async def _checkpoint_outs(
    session: AsyncSession, settings: ReportingSettings, views: list[service.CheckpointView]
) -> list[CheckpointOut]:
    """Checkpoints as served: the log's signed note followed by its witnesses' cosignature lines."""
    cosigned = await cosign.cosignatures_for(session, [v.tree_size for v in views])
    return [
        CheckpointOut(
            origin=settings.ledger_origin,
            tree_size=view.tree_size,
            root_hash=service.b64(view.root_hash),
            note=cosign.with_cosignatures(view.note, [c.signature for c in cosigned[view.tree_size]]),
            key_name=view.key_name,
            key_id=view.key_id,
            signed_at=view.signed_at,
            cosignatures=[
                CosignatureOut(
                    key_name=c.key_name,
                    key_id=c.key_id,
                    agency=c.agency,
                    timestamp=c.timestamp,
                    signature=c.signature,
                    received_at=c.received_at,
                )
                for c in cosigned[view.tree_size]
            ],
        )
        for view in views
    ]


async def _checkpoint_out(
    session: AsyncSession, settings: ReportingSettings, view: service.CheckpointView
) -> CheckpointOut:
    return (await _checkpoint_outs(session, settings, [view]))[0]


@router.get(
    "/ledger/checkpoint",
    response_model=CheckpointOut,
    summary="The latest signed checkpoint (signed now if the tree has grown since the last one)",
    description="`?format=note` returns the signed note itself as text/plain, for `note.Open`.",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "description": "C2SP signed note"}}}},
        **error_responses(LedgerInconsistent),
    },
)
async def checkpoint(
    request: Request, session: DbSession, format: Annotated[Literal["json", "note"], Query()] = "json"
) -> Response | CheckpointOut:
    settings = _settings(request)
    view = await service.publish_checkpoint(session, settings.ledger_signer())
    out = await _checkpoint_out(session, settings, view)
    if format == "note":
        return PlainTextResponse(out.note, media_type="text/plain; charset=utf-8")
    return out


@router.get(
    "/ledger/checkpoints",
    response_model=CheckpointPage,
    summary="Every signed checkpoint, oldest first, by tree-size cursor (public: sizes and roots only)",
)
async def list_checkpoints(
    request: Request,
    session: DbSession,
    after: Annotated[int, Query(ge=-1, le=MAX_INDEX, description="last tree size already seen; -1 for the start")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointPage:
    settings = _settings(request)
    page = await service.list_checkpoints(session, after=after, limit=limit)
    return CheckpointPage(
        checkpoints=await _checkpoint_outs(session, settings, page.checkpoints), next_cursor=page.next_cursor
    )


@router.get(
    "/ledger/checkpoints/{size}",
    response_model=CheckpointOut,
    summary="The checkpoint signed at exactly this tree size (never re-signed; 404 if none was signed)",
    description="`?format=note` returns the signed note itself as text/plain, for `note.Open`.",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "description": "C2SP signed note"}}}},
        **error_responses(CheckpointNotFound),
    },
)
async def checkpoint_at(
    request: Request,
    session: DbSession,
    size: Annotated[int, Path(ge=0, le=MAX_INDEX + 1, description="tree size")],
    format: Annotated[Literal["json", "note"], Query()] = "json",
) -> Response | CheckpointOut:
    view = await service.checkpoint_at(session, size)
    out = await _checkpoint_out(session, _settings(request), view)
    if format == "note":
        return PlainTextResponse(out.note, media_type="text/plain; charset=utf-8")
    return out


def _witness(request: Request, principal: Annotated[Principal, Depends(require_roles("agency:*"))]) -> Principal:
    """An agency that takes part in the ledger: as for every answer an agency may read, one without
    a data-sharing grant is refused (403 no_data_sharing_grant)."""
    service.access_for(principal, _grants(request))
    return principal


AgencyWitness = Annotated[Principal, Depends(_witness)]


@router.post(
    "/ledger/checkpoints/{size}/cosignatures",
    response_model=CheckpointOut,
    summary="Submit a witness cosignature (C2SP tlog-cosignature) of the checkpoint signed at this size",
    description="Only from an agency, only with a witness key registered for that agency "
    "(`REPORTING_LEDGER_WITNESS_KEYS`), and only if the signature verifies over the checkpoint. "
    "The agency should cosign only a checkpoint it has proved consistent with the last one it saw. "
    "Answers the checkpoint as now served (201 if the cosignature is new, 200 if that key had cosigned it).",
    status_code=201,
    responses=error_responses(
        CheckpointNotFound, CosignatureInvalid, WitnessKeyUnknown, Unauthenticated, Forbidden, NoDataSharingGrant
    ),
)
async def submit_cosignature(
    request: Request,
    response: Response,
    session: DbSession,
    principal: AgencyWitness,
    size: Annotated[int, Path(ge=0, le=MAX_INDEX + 1, description="tree size")],
    body: CosignatureIn,
) -> CheckpointOut:
    settings = _settings(request)
    _, created = await cosign.submit(
        session,
        tree_size=size,
        line=body.signature,
        agencies=principal.agencies,
        witness_keys=settings.ledger_witness_keys,
    )
    if not created:
        response.status_code = 200
    return await _checkpoint_out(session, settings, await service.checkpoint_at(session, size))


def _verifier_out(verifier: Verifier) -> VerifierKeyOut:
    return VerifierKeyOut(
        key_name=verifier.name,
        key_id=verifier.key_id.hex(),
        verifier_key=verifier.vkey,
        fingerprint=verifier.fingerprint,
    )


@router.get(
    "/ledger/public-key",
    response_model=PublicKeyOut,
    summary="The ledger's checkpoint-signing key, its fingerprint, and the keys it replaced",
)
async def public_key(request: Request) -> PublicKeyOut:
    settings = _settings(request)
    verifier = settings.ledger_signer().verifier
    previous = [Verifier.parse(k) for k in settings.ledger_previous_verifier_keys]
    return PublicKeyOut(
        origin=settings.ledger_origin,
        key_name=verifier.name,
        key_id=verifier.key_id.hex(),
        public_key=service.b64(verifier.public_key),
        verifier_key=verifier.vkey,
        fingerprint=verifier.fingerprint,
        previous_verifier_keys=[v.vkey for v in previous],
        previous=[_verifier_out(v) for v in previous],
    )


@well_known_router.get(
    "/.well-known/ledger-verifier-key",
    response_class=PlainTextResponse,
    summary="The ledger's verifier keys as text: the current key on the first line, rotated-out keys after it",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def well_known_verifier_key(request: Request) -> PlainTextResponse:
    settings = _settings(request)
    keys = [
        settings.ledger_signer().verifier.vkey,
        *(Verifier.parse(k).vkey for k in settings.ledger_previous_verifier_keys),
    ]
    return PlainTextResponse("".join(f"{k}\n" for k in keys), media_type="text/plain; charset=utf-8")


@router.get(
    "/ledger/proof/inclusion",
    response_model=InclusionProofOut,
    summary="RFC 6962 inclusion proof of the entry at index in the tree of the given size",
    responses=error_responses(IndexOutOfRange, SizeBeyondTree, Unauthenticated, NoDataSharingGrant),
)
async def inclusion_proof(
    session: DbSession,
    access: ReaderAccess,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    size: Annotated[int, Query(ge=1, le=MAX_INDEX)],
) -> InclusionProofOut:
    view = await service.inclusion_proof(session, access, index=index, size=size)
    return InclusionProofOut(
        index=view.index,
        tree_size=view.tree_size,
        leaf_hash=service.b64(view.leaf_hash),
        root_hash=service.b64(view.root_hash),
        proof=[service.b64(h) for h in view.proof],
        leaf=service.b64(view.leaf) if view.leaf is not None else None,
    )


@router.get(
    "/ledger/proof/consistency",
    response_model=ConsistencyProofOut,
    summary="RFC 6962 consistency proof between tree sizes from and to",
    responses=error_responses(FromAfterTo, SizeBeyondTree, Unauthenticated, NoDataSharingGrant),
)
async def consistency_proof(
    session: DbSession,
    _: ReaderAccess,
    first: Annotated[int, Query(alias="from", ge=1, le=MAX_INDEX, description="the older tree size (>= 1)")],
    second: Annotated[int, Query(alias="to", ge=1, le=MAX_INDEX, description="the newer tree size")],
) -> ConsistencyProofOut:
    view = await service.consistency_proof(session, first=first, second=second)
    return ConsistencyProofOut(
        from_size=view.first,
        to_size=view.second,
        from_root=service.b64(view.first_root),
        to_root=service.b64(view.second_root),
        proof=[service.b64(h) for h in view.proof],
    )


@router.get(
    "/ledger/verify",
    response_model=VerificationOut,
    summary="Recompute the tree from the stored entries and check it against every signed checkpoint",
    responses=error_responses(Unauthenticated, Forbidden),
)
async def verify(
    request: Request, session: DbSession, _: Annotated[Principal, Depends(require_roles("ops", "supervisor"))]
) -> VerificationOut:
    settings = _settings(request)
    view = await service.verify_ledger(session, _verifiers(settings), settings.ledger_origin)
    return VerificationOut(
        ok=view.ok,
        tree_size=view.tree_size,
        entries_checked=view.entries_checked,
        root_hash=service.b64(view.root_hash),
        checkpoints=[
            CheckpointCheckOut(
                tree_size=c.tree_size,
                root_hash=service.b64(c.root_hash),
                signature_ok=c.signature_ok,
                root_matches=c.root_matches,
            )
            for c in view.checkpoints
        ],
        problems=view.problems,
    )
