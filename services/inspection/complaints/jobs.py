"""Pruning of idle complaint rate buckets (a bucket idle for a day is dropped; ``ratelimit.prune``)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.inspection.complaints import ratelimit
from shared.app import PeriodicJob, ServiceContext


async def prune_rate_buckets(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as session:
        await ratelimit.prune(session, datetime.now(UTC))


def jobs(interval_seconds: float = 60) -> list[PeriodicJob]:
    return [PeriodicJob("inspection-complaint-buckets-prune", interval_seconds, prune_rate_buckets)]
