"""The shared ledger (信息共享台账): every domain event appended once, in consumption order.

Each entry is an RFC 6962 leaf (hash = SHA-256(0x00 || leaf bytes)); the Merkle tree, signed
checkpoints and proofs over these leaves come with the reporting issue.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository
from services.reporting.errors import InvalidCursor
from services.reporting.models import LedgerEntry
from shared.events import CloudEvent
from shared.events.reporting import LedgerEntryAppendedV1
from shared.outbox import Outbox

LEDGER_SUBJECT = "ledger"


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


@dataclass(frozen=True)
class LedgerEntryView:
    index: int
    event_id: str
    event_source: str
    event_type: str
    subject: str
    event_time: datetime
    recorded_at: datetime
    leaf_hash: str
    event: dict[str, Any]


async def append_event(session: AsyncSession, outbox: Outbox, envelope: CloudEvent) -> int:
    leaf = envelope.to_json().encode("utf-8")
    index = await repository.next_index(session)
    digest = leaf_hash(leaf)
    now = datetime.now(UTC)
    await repository.add_entry(
        session,
        LedgerEntry(
            index=index,
            event_id=envelope.id,
            event_source=envelope.source,
            event_type=envelope.type,
            subject=envelope.subject,
            event_time=envelope.time,
            leaf=leaf,
            leaf_hash=digest,
            recorded_at=now,
        ),
    )
    await outbox.add(
        session,
        LedgerEntryAppendedV1(
            index=index,
            leaf_hash=digest.hex(),
            source_event_id=envelope.id,
            source_event_type=envelope.type,
            subject=envelope.subject,
            recorded_at=now,
        ),
        subject=LEDGER_SUBJECT,
        at=now,
    )
    return index


async def read_ledger(session: AsyncSession, *, after: int, limit: int) -> tuple[list[LedgerEntryView], int]:
    if after < -1:
        raise InvalidCursor(field="after")
    rows = await repository.entries_after(session, after, limit)
    views = [
        LedgerEntryView(
            index=row.index,
            event_id=row.event_id,
            event_source=row.event_source,
            event_type=row.event_type,
            subject=row.subject,
            event_time=row.event_time,
            recorded_at=row.recorded_at,
            leaf_hash=row.leaf_hash.hex(),
            event=json.loads(row.leaf),
        )
        for row in rows
    ]
    return views, await repository.tree_size(session)
