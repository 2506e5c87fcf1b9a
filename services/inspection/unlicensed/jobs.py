"""Gauges of unlicensed-operator cases, read from the database (the same city-wide number on every
replica)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.inspection.unlicensed import repository, service
from shared.app import PeriodicJob, ServiceContext

OVERDUE = "childcare_unlicensed_guidance_steps_overdue"
OVERDUE_HELP = "Open guidance-plan steps (一园一策) of open unlicensed-operator cases past their deadline."
OPEN = "childcare_unlicensed_cases_open"
OPEN_HELP = "Unlicensed-operator cases still open."


async def measure_cases(ctx: ServiceContext) -> None:
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        overdue = await service.overdue_steps(session, now=now)
        open_cases = sum((await repository.open_counts_by_district(session)).values())
    ctx.metrics.gauge(OVERDUE, OVERDUE_HELP).set(overdue)
    ctx.metrics.gauge(OPEN, OPEN_HELP).set(open_cases)


def jobs(interval_seconds: float = 60) -> list[PeriodicJob]:
    return [PeriodicJob("inspection-unlicensed-measure", interval_seconds, measure_cases)]
