"""Idempotent writes of the mobile API (an app retrying on a bad network never duplicates).

The first successful response to (caller, Idempotency-Key) is stored in the same transaction as the
write it describes; a retry with the same key and the same request gets that response back verbatim
and changes nothing; the same key with a different request is refused. A failed request stores
nothing (its transaction rolls back), so retrying it simply tries again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.errors import IdempotencyKeyReused
from services.inspection.models import IdempotencyRecord


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    payload = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


async def begin(session: AsyncSession, subject: str, key: str, print_: str) -> Replay | None:
    """Claim the key for this request, or return the stored response of the original request.

    The insert waits on a concurrent first attempt with the same key (unique index), so two racing
    retries never both execute the write.
    """
    claimed = (
        await session.execute(
            pg_insert(IdempotencyRecord)
            .values(subject=subject, key=key, fingerprint=print_)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        )
    ).first()
    if claimed is not None:
        return None
    record = (
        await session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.subject == subject, IdempotencyRecord.key == key)
        )
    ).scalar_one()
    if record.fingerprint != print_ or record.status_code is None:
        raise IdempotencyKeyReused()
    return Replay(status_code=record.status_code, body=record.response_body)


async def finish(session: AsyncSession, subject: str, key: str, status_code: int, body: Any) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.subject == subject, IdempotencyRecord.key == key)
        .values(status_code=status_code, response_body=body)
    )
