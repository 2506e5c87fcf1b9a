"""Token buckets for the public complaint endpoints, kept in the service's database.

Why the database and not process memory: the service runs as several replicas behind one address,
and an in-process bucket would give each replica its own allowance (N replicas = N × the limit) and
forget it on restart. A row per bucket, updated under its row lock, is one allowance for the whole
service. The cost is a row lock per public request; the global bucket serialises complaint
submissions city-wide, which at complaint volumes (a few per minute) is nothing, but it is the
first thing to move (e.g. to Redis or a sharded bucket) if the endpoint ever needs hundreds per
second. The bucket is consumed in its own short transaction, so a request that then fails
validation still costs a token (otherwise bad requests would be a free way to hammer the service).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.complaints.models import RateBucket
from shared.errors import AppError


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    message_zh = "提交过于频繁，请稍后再试"

    def __init__(self, retry_after_s: int, message_zh: str | None = None) -> None:
        super().__init__(message_zh, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Limit:
    burst: int
    per_hour: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    tokens: float
    retry_after_s: int


def take(tokens: float, updated_at: datetime, now: datetime, limit: Limit) -> Decision:
    """Refill by the elapsed time (never above the burst), then take one token if there is one."""
    elapsed = max(0.0, (now - updated_at).total_seconds())
    rate = limit.per_hour / 3600.0
    available = min(float(limit.burst), tokens + elapsed * rate)
    if available >= 1.0:
        return Decision(allowed=True, tokens=available - 1.0, retry_after_s=0)
    return Decision(allowed=False, tokens=available, retry_after_s=max(1, math.ceil((1.0 - available) / rate)))


def client_key(secret: str, scope: str, ip: str) -> str:
    """The bucket key of a client: a keyed hash, so the table never holds an IP address."""
    digest = hmac.new(secret.encode("utf-8"), ip.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return f"{scope}:ip:{digest}"


async def consume(session: AsyncSession, key: str, limit: Limit, now: datetime) -> Decision:
    await session.execute(
        pg_insert(RateBucket)
        .values(key=key, tokens=float(limit.burst), updated_at=now)
        .on_conflict_do_nothing(index_elements=[RateBucket.key])
    )
    bucket = (await session.execute(select(RateBucket).where(RateBucket.key == key).with_for_update())).scalar_one()
    decision = take(bucket.tokens, bucket.updated_at, now, limit)
    bucket.tokens = decision.tokens
    bucket.updated_at = max(now, bucket.updated_at)
    await session.flush()
    return decision


async def prune(session: AsyncSession, now: datetime, *, idle: timedelta = timedelta(days=1)) -> int:
    """Buckets idle for a day are full again anyway: dropping them changes no decision."""
    result = await session.execute(delete(RateBucket).where(RateBucket.updated_at < now - idle))
    return int(getattr(result, "rowcount", 0) or 0)
