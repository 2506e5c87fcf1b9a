from __future__ import annotations

from services.filing.institutions import service
from shared.app import PeriodicJob, ServiceContext
from shared.workdays import china_today


async def measure_overdue_decisions(ctx: ServiceContext) -> None:
    """Exports how many filing decisions are past their 5-working-day deadline right now."""
    async with ctx.db.transaction() as session:
        overdue = await service.overdue_decisions(session, china_today())
    ctx.metrics.gauge(
        "childcare_filing_decisions_overdue", "Filing decisions (initial or change) past their working-day deadline."
    ).set(overdue)


def jobs() -> list[PeriodicJob]:
    return [PeriodicJob("filing-decisions-overdue", 60, measure_overdue_decisions)]
