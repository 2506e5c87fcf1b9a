"""The shared ledger (信息共享台账): every domain event appended once, in consumption order, as an
RFC 6962 Merkle tree leaf; signed checkpoints, proofs, verification, and grant-filtered reads.

A leaf is the RFC 8785 canonical JSON of {id, source, type, subject, time, data} of the CloudEvent.
Nothing local (arrival time, index) is in the leaf, so a rebuild that appends the same events in
the same order reproduces the same tree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.ledger import leaves, merkle, repository
from services.reporting.ledger.errors import (
    CheckpointNotFound,
    FromAfterTo,
    IndexOutOfRange,
    InvalidCursor,
    LedgerInconsistent,
    SizeBeyondTree,
)
from services.reporting.ledger.models import LedgerCheckpoint
from services.reporting.ledger.notes import Checkpoint, NoteError, Signer, Verifier, open_checkpoint, sign_checkpoint
from services.reporting.ledger.schemas import LedgerEntryOut, LedgerPage, ProblemOut
from shared.auth import Principal
from shared.events import CloudEvent
from shared.events.reporting import LedgerEntrySharedV2
from shared.grants import Grants, agency_view, project
from shared.outbox import Outbox

LEDGER_SUBJECT = "ledger"
FULL_VIEW_ROLES = ("ops", "supervisor")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def format_time(moment: datetime) -> str:
    return leaves.format_time(moment)


def entry_document(envelope: CloudEvent) -> dict[str, Any]:
    return {**leaves.envelope_fields(envelope), "data": envelope.data}


def leaf_of(envelope: CloudEvent) -> bytes:
    """The version-1 leaf (services/reporting/leaves.py has every version)."""
    return leaves.leaf_v1(envelope)


def split_peaks(blob: bytes) -> list[bytes]:
    return [blob[i : i + merkle.HASH_SIZE] for i in range(0, len(blob), merkle.HASH_SIZE)]


# --- appending -----------------------------------------------------------------------------------


async def append_event(
    session: AsyncSession,
    outbox: Outbox | None,
    envelope: CloudEvent,
    *,
    shared_fields: Mapping[str, frozenset[str]],
    leaf_format: leaves.LeafFormat | None = None,
    now: datetime | None = None,
) -> int | None:
    """Append one event; None if it is in the ledger already. ``outbox=None`` appends silently
    (a rebuild: the ledger topic already holds these records)."""
    indexes = await append_events(
        session, outbox, [envelope], shared_fields=shared_fields, leaf_format=leaf_format, now=now
    )
    return indexes[0]


async def append_events(
    session: AsyncSession,
    outbox: Outbox | None,
    envelopes: Sequence[CloudEvent],
    *,
    shared_fields: Mapping[str, frozenset[str]],
    leaf_format: leaves.LeafFormat | None = None,
    versions: Sequence[int | None] | None = None,
    now: datetime | None = None,
) -> list[int | None]:
    """Append events in the given order under one head lock; per event its index, or None if it is
    in the ledger already (or earlier in the same list). The leaves, the subtrees they complete and
    the new head are written with one statement each: the same tree as appending one by one.

    Leaves get ``leaf_format``'s version (None: version 1), or per event the one in ``versions``
    (a rebuild reproducing entries of an earlier version)."""
    leaf_format = leaf_format or leaves.LeafFormat(version=leaves.LEAF_V1, salt_key=b"")
    wanted = list(versions) if versions is not None else [None] * len(envelopes)
    keys = [(e.source, e.id) for e in envelopes]
    present = await repository.entries_existing(session, keys)
    size, peaks_blob = await repository.lock_head(session)
    made: list[tuple[CloudEvent, leaves.Leaf, bytes]] = []
    indexes: list[int | None] = []
    for envelope, key, version in zip(envelopes, keys, wanted, strict=True):
        if key in present:
            indexes.append(None)
            continue
        present.add(key)
        leaf = leaf_format.leaf(envelope, version)
        made.append((envelope, leaf, merkle.leaf_hash(leaf.leaf)))
        indexes.append(size + len(made) - 1)
    if not made:
        return indexes
    appends = compute_appends(size, split_peaks(peaks_blob), made, recorded_at=now or datetime.now(UTC))
    if outbox is not None:
        await announce(session, outbox, zip(appends.entries, appends.envelopes, strict=True), shared_fields)
    await repository.store_appends(session, appends.entries, appends.nodes, appends.size, appends.peaks_blob)
    return indexes


@dataclass(frozen=True)
class Appends:
    """What appending some leaves to a tree writes: the entries' rows, the complete subtrees they
    close, and the new head. Pure data: the live consumer and the bulk rebuild compute it with
    ``compute_appends`` and only store it differently (executemany vs COPY)."""

    entries: list[dict[str, Any]]
    nodes: list[tuple[merkle.Node, bytes]]
    size: int
    peaks: list[bytes]
    envelopes: list[CloudEvent]

    @property
    def peaks_blob(self) -> bytes:
        return b"".join(self.peaks)


def compute_appends(
    size: int, peaks: list[bytes], made: Sequence[tuple[CloudEvent, leaves.Leaf, bytes]], *, recorded_at: datetime
) -> Appends:
    """Append ``made`` (event, its leaf, the leaf's hash), in this order, to a tree of ``size``
    leaves with ``peaks``. The one rule for an entry's row and the tree's growth."""
    entries: list[dict[str, Any]] = []
    nodes: list[tuple[merkle.Node, bytes]] = []
    for envelope, leaf, digest in made:
        peaks, completed = merkle.append_leaf(size, peaks, digest)
        nodes += completed
        entries.append(
            {
                "index": size,
                "event_id": envelope.id,
                "event_source": envelope.source,
                "event_type": envelope.type,
                "subject": envelope.subject,
                "event_time": envelope.time,
                "leaf": leaf.leaf,
                "leaf_hash": digest,
                "leaf_version": leaf.version,
                "data": leaf.data,
                "field_salts": leaf.salts,
                "recorded_at": recorded_at,
            }
        )
        size += 1
    return Appends(entries=entries, nodes=nodes, size=size, peaks=peaks, envelopes=[m[0] for m in made])


def announcement(
    entry: Mapping[str, Any], envelope: CloudEvent, shared_fields: Mapping[str, frozenset[str]]
) -> LedgerEntrySharedV2:
    """The ``entry_shared`` record of an appended entry: the commonly granted fields only."""
    fields = shared_fields.get(envelope.type)
    return LedgerEntrySharedV2(
        index=entry["index"],
        leaf_hash=b64(entry["leaf_hash"]),
        leaf_version=entry["leaf_version"],
        event_id=envelope.id,
        event_source=envelope.source,
        event_type=envelope.type,
        subject=envelope.subject if fields is not None else None,
        event_time=envelope.time,
        recorded_at=entry["recorded_at"],
        data=project(envelope.data, fields) if fields is not None else {},
    )


async def announce(
    session: AsyncSession,
    outbox: Outbox,
    appended: Iterable[tuple[Mapping[str, Any], CloudEvent]],
    shared_fields: Mapping[str, frozenset[str]],
) -> None:
    """Announce appended entries (row, event) on the ledger topic through the outbox, in this order."""
    for entry, envelope in appended:
        await outbox.add(
            session,
            announcement(entry, envelope, shared_fields),
            subject=LEDGER_SUBJECT,
            at=entry["recorded_at"],
            # one announcement per source event: a rebuild announcing it again uses the same id
            derived_from=f"{envelope.source} {envelope.id}",
        )


# --- who sees what --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """``fields_by_type`` None: everything (ops, supervisor); otherwise only these types and fields."""

    fields_by_type: Mapping[str, frozenset[str]] | None
    full: bool = False

    @property
    def types(self) -> list[str] | None:
        return None if self.fields_by_type is None else sorted(self.fields_by_type)

    def data(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.fields_by_type is None:
            return data
        return project(data, self.fields_by_type[event_type])


def access_for(principal: Principal, grants: Grants) -> Access:
    """The same rule as every agency answer (shared.grants.agency_view): 403 without a grant."""
    view = agency_view(principal, grants, full_roles=FULL_VIEW_ROLES)
    return Access(fields_by_type=view.fields_by_type, full=view.full)


def entry_view(row: Any, access: Access) -> LedgerEntryOut:
    """An entry as the caller may see it: the answer of the ledger endpoints and each exported line."""
    version = int(row.leaf_version)
    if version == leaves.LEAF_V1:
        data = access.data(row.event_type, json.loads(bytes(row.leaf))["data"])
        fields = None
    else:
        full = json.loads(bytes(row.data))
        data = access.data(row.event_type, full)
        fields = leaves.field_view(bytes(row.leaf), full, json.loads(bytes(row.field_salts)), data)
    return LedgerEntryOut(
        index=int(row.idx),
        event_id=row.event_id,
        event_source=row.event_source,
        event_type=row.event_type,
        subject=row.subject,
        event_time=row.event_time,
        recorded_at=row.recorded_at,
        leaf_hash=b64(bytes(row.leaf_hash)),
        leaf_hash_hex=bytes(row.leaf_hash).hex(),
        data=data,
        leaf_version=version,
        disclosures=fields.disclosures if fields is not None else None,
        undisclosed_digests=fields.undisclosed_digests if fields is not None else None,
    )


async def read_ledger(session: AsyncSession, access: Access, *, after: int, limit: int) -> LedgerPage:
    """Entries after the cursor that the caller may see. The cursor advances over entries the caller
    may not see too, and never skips one: the size is read first, and every index below it is
    committed (appends commit in index order under the head lock)."""
    if after < -1:
        raise InvalidCursor(field="after")
    size = await repository.tree_size(session)
    rows = await repository.entries_page(session, after=after, below=size, limit=limit, types=access.types)
    views = [entry_view(row, access) for row in rows]
    if len(rows) == limit:
        next_cursor = int(rows[-1].idx)
    else:
        next_cursor = max(after, size - 1)
    return LedgerPage(entries=views, next_cursor=next_cursor, tree_size=size)


async def check_range(session: AsyncSession, start: int, end: int | None) -> tuple[int, int]:
    size = await repository.tree_size(session)
    stop = size if end is None else end
    if stop > size:
        raise SizeBeyondTree(field="to")
    if start > stop:
        raise FromAfterTo(field="from")
    return start, stop


async def export_entries(
    transaction: Callable[[], Any], access: Access, *, start: int, stop: int, batch: int = 1000
) -> AsyncIterator[list[LedgerEntryOut]]:
    """Entries start <= index < stop in keyset pages of ``batch``, each read in its own short
    transaction: memory stays flat whatever the range, and no transaction is held open while the
    client reads slowly."""
    after = start - 1
    while after < stop - 1:
        async with transaction() as session:
            rows = await repository.entries_page(session, after=after, below=stop, limit=batch, types=access.types)
        if not rows:
            return
        yield [entry_view(row, access) for row in rows]
        after = int(rows[-1].idx)
        if len(rows) < batch:
            return


# --- tree hashes, checkpoints, proofs ------------------------------------------------------------


async def _hashes(session: AsyncSession, ranges: list[tuple[int, int]]) -> list[bytes]:
    stored = await repository.read_nodes(session, merkle.nodes_for(ranges))

    def read(level: int, index: int) -> bytes:
        try:
            return stored[(level, index)]
        except KeyError:
            raise LedgerInconsistent(f"台账缺少第 {level} 层第 {index} 个子树哈希，请立即核查") from None

    return merkle.hashes_for(ranges, read)


async def root_at(session: AsyncSession, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return (await _hashes(session, merkle.root_ranges(size)))[0]


@dataclass(frozen=True)
class CheckpointView:
    tree_size: int
    root_hash: bytes
    note: str
    key_name: str
    key_id: str
    signed_at: datetime | None


def _checkpoint_view(row: LedgerCheckpoint) -> CheckpointView:
    return CheckpointView(
        tree_size=int(row.tree_size),
        root_hash=bytes(row.root_hash),
        note=row.note,
        key_name=row.key_name,
        key_id=row.key_id,
        signed_at=row.signed_at,
    )


async def publish_checkpoint(session: AsyncSession, signer: Signer) -> CheckpointView:
    """The checkpoint of the current tree, signed now unless one for this size exists.

    Never signs a tree that does not extend the last signed one (C2SP: a log MUST NOT sign
    inconsistent checkpoints): the stored tree must prove consistency with it first."""
    size, peaks_blob = await repository.head(session)
    root = merkle.fold_peaks(split_peaks(peaks_blob))
    latest = await repository.latest_checkpoint(session)
    if latest is not None:
        if latest.tree_size == size and bytes(latest.root_hash) == root:
            return _checkpoint_view(latest)
        if latest.tree_size > size or not await _extends(
            session, int(latest.tree_size), bytes(latest.root_hash), size, root
        ):
            raise LedgerInconsistent()
    elif size > 0 and await root_at(session, size) != root:
        raise LedgerInconsistent()
    checkpoint = Checkpoint(origin=signer.name, size=size, root=root)
    row = LedgerCheckpoint(
        tree_size=size,
        root_hash=root,
        note=sign_checkpoint(signer, checkpoint),
        key_name=signer.name,
        key_id=signer.verifier.key_id.hex(),
    )
    await repository.add_checkpoint(session, row)
    stored = await repository.latest_checkpoint(session)
    assert stored is not None
    return _checkpoint_view(stored)


async def _extends(session: AsyncSession, old_size: int, old_root: bytes, size: int, root: bytes) -> bool:
    if old_size == 0:
        return old_root == merkle.EMPTY_ROOT
    if await root_at(session, size) != root:
        return False
    proof = await _hashes(session, merkle.consistency_ranges(old_size, size))
    return merkle.verify_consistency(old_size, size, old_root, root, proof)


async def latest_checkpoint(session: AsyncSession) -> CheckpointView | None:
    row = await repository.latest_checkpoint(session)
    return _checkpoint_view(row) if row is not None else None


async def checkpoint_at(session: AsyncSession, size: int) -> CheckpointView:
    """The checkpoint signed at exactly this tree size; 404 if the log never signed that size."""
    row = await repository.checkpoint_at(session, size)
    if row is None:
        raise CheckpointNotFound(field="size")
    return _checkpoint_view(row)


@dataclass(frozen=True)
class CheckpointPageView:
    checkpoints: list[CheckpointView]
    next_cursor: int | None


async def list_checkpoints(session: AsyncSession, *, after: int, limit: int) -> CheckpointPageView:
    """Signed checkpoints with tree size > after, oldest first; ``next_cursor`` is the last size
    returned when the page is full (there may be more), else None."""
    rows = await repository.checkpoints_page(session, after=after, limit=limit)
    views = [_checkpoint_view(row) for row in rows]
    return CheckpointPageView(checkpoints=views, next_cursor=views[-1].tree_size if len(views) == limit else None)


@dataclass(frozen=True)
class InclusionProofView:
    index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    proof: list[bytes]
    leaf: bytes | None  # the exact leaf bytes, for callers that may see the whole entry


async def inclusion_proof(session: AsyncSession, access: Access, *, index: int, size: int) -> InclusionProofView:
    if size > await repository.tree_size(session):
        raise SizeBeyondTree(field="size")
    if index >= size:
        raise IndexOutOfRange(field="index")
    row = await repository.entry(session, index)
    if row is None:
        raise LedgerInconsistent()
    proof = await _hashes(session, merkle.inclusion_ranges(index, size))
    return InclusionProofView(
        index=index,
        tree_size=size,
        leaf_hash=bytes(row.leaf_hash),
        root_hash=await root_at(session, size),
        proof=proof,
        leaf=bytes(row.leaf) if access.full else None,
    )


@dataclass(frozen=True)
class ConsistencyProofView:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


async def consistency_proof(session: AsyncSession, *, first: int, second: int) -> ConsistencyProofView:
    if second > await repository.tree_size(session):
        raise SizeBeyondTree(field="to")
    if first > second:
        raise FromAfterTo(field="from")
    proof = await _hashes(session, merkle.consistency_ranges(first, second))
    return ConsistencyProofView(
        first=first,
        second=second,
        first_root=await root_at(session, first),
        second_root=await root_at(session, second),
        proof=proof,
    )


# --- verification --------------------------------------------------------------------------------


@dataclass
class CheckpointCheck:
    tree_size: int
    root_hash: bytes
    signature_ok: bool
    root_matches: bool


@dataclass
class VerificationView:
    ok: bool
    tree_size: int
    entries_checked: int
    root_hash: bytes
    checkpoints: list[CheckpointCheck] = field(default_factory=list)
    problems: list[ProblemOut] = field(default_factory=list)


async def verify_ledger(
    session: AsyncSession, verifiers: list[Verifier], origin: str, *, batch: int = 2000
) -> VerificationView:
    """Recompute every leaf hash from the stored leaf bytes and the root at every checkpointed size,
    and compare with the signed checkpoints: any alteration, deletion, reordering or truncation of
    entries since a checkpoint was signed changes a root (or leaves a gap) and is reported."""
    size, peaks_blob = await repository.head(session)
    stored = list(await repository.checkpoints(session))
    problems: list[ProblemOut] = []
    checks: dict[int, CheckpointCheck] = {}
    signed_roots: dict[int, bytes] = {}
    for cp_row in stored:
        check = CheckpointCheck(int(cp_row.tree_size), bytes(cp_row.root_hash), signature_ok=False, root_matches=False)
        checks[check.tree_size] = check
        try:
            opened = None
            for verifier in verifiers:
                try:
                    opened = open_checkpoint(cp_row.note, verifier, origin)
                    break
                except NoteError:
                    continue
            if opened is None:
                raise NoteError("no known key verifies this checkpoint")
            check.signature_ok = opened.size == check.tree_size
            signed_roots[check.tree_size] = opened.root
            if opened.size != check.tree_size or opened.root != check.root_hash:
                problems.append(
                    ProblemOut(
                        code="checkpoint_row_altered", detail="检查点记录与其签名内容不一致", tree_size=check.tree_size
                    )
                )
        except NoteError as exc:
            problems.append(ProblemOut(code="checkpoint_signature_invalid", detail=str(exc), tree_size=check.tree_size))
    if 0 in signed_roots:
        checks[0].root_matches = signed_roots[0] == merkle.EMPTY_ROOT

    peaks: list[bytes] = []
    count = 0
    after = -1
    while True:
        rows = await repository.leaves_page(session, after=after, limit=batch)
        for row in rows:
            index = int(row.idx)
            if index != count:
                problems.append(
                    ProblemOut(code="entry_missing", detail=f"第 {count} 条缺失（下一条是第 {index} 条）", index=count)
                )
                break
            digest = merkle.leaf_hash(bytes(row.leaf))
            if digest != bytes(row.leaf_hash):
                problems.append(
                    ProblemOut(code="leaf_hash_mismatch", detail="条目内容与其存储的哈希不一致", index=index)
                )
            if row.leaf_version == leaves.LEAF_V2 and not leaves.fields_match(
                bytes(row.leaf), bytes(row.data), bytes(row.field_salts)
            ):
                problems.append(
                    ProblemOut(
                        code="leaf_fields_mismatch", detail="条目保存的字段与其叶子承诺的摘要不一致", index=index
                    )
                )
            peaks, _ = merkle.append_leaf(count, peaks, digest)
            count += 1
            if count in signed_roots:
                checks[count].root_matches = merkle.fold_peaks(peaks) == signed_roots[count]
                if not checks[count].root_matches:
                    problems.append(
                        ProblemOut(
                            code="root_mismatch", detail="按存储条目重算的根哈希与已签名检查点不一致", tree_size=count
                        )
                    )
        else:
            if len(rows) == batch:
                after = int(rows[-1].idx)
                continue
        break
    root = merkle.fold_peaks(peaks)
    for tree_size in signed_roots:
        if tree_size > count:
            problems.append(
                ProblemOut(
                    code="entries_missing",
                    detail=f"已签名检查点覆盖 {tree_size} 条，但只存有连续的 {count} 条",
                    tree_size=tree_size,
                )
            )
    if count != size:
        problems.append(
            ProblemOut(code="size_mismatch", detail=f"台账头记录 {size} 条，实际连续条目 {count} 条", tree_size=size)
        )
    elif root != merkle.fold_peaks(split_peaks(peaks_blob)):
        problems.append(ProblemOut(code="head_mismatch", detail="台账头保存的树与条目重算结果不一致", tree_size=size))
    return VerificationView(
        ok=not problems,
        tree_size=size,
        entries_checked=count,
        root_hash=root,
        checkpoints=[checks[s] for s in sorted(checks)],
        problems=problems,
    )


async def tree_size(session: AsyncSession) -> int:
    return await repository.tree_size(session)
