"""Periodic jobs: escalate overdue rectifications, measure results not yet published in time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from services.inspection.plans.models import Plan
from services.inspection.settings import InspectionSettings
from services.inspection.tasks import service
from shared.app import PeriodicJob, ServiceContext


async def escalate_overdue_rectifications(ctx: ServiceContext) -> None:
    """逾期未整改 → ViolationEscalatedV1 (idempotent: an escalated violation is not picked again)."""
    async with ctx.db.transaction() as session:
        await service.escalate_overdue(session, ctx.outbox, now=datetime.now(UTC))


async def measure_publication_overdue(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as session:
        overdue = await service.publication_overdue(session, now=datetime.now(UTC))
    ctx.metrics.gauge(
        "childcare_inspection_results_publication_overdue",
        "Submitted inspections whose result is still unpublished after the publication deadline.",
    ).set(overdue)


async def measure_draws(ctx: ServiceContext) -> None:
    """Domain SLA metric "draws performed": plans whose random draw has been run. A gauge read from
    the database (not a per-process counter), so every replica reports the same city-wide number."""
    async with ctx.db.transaction() as session:
        drawn = (
            await session.execute(select(func.count()).select_from(Plan).where(Plan.status == "drawn"))
        ).scalar_one()
    ctx.metrics.gauge("childcare_inspection_plans_drawn", "Random-inspection plans whose draw has been performed.").set(
        drawn
    )


def jobs(settings: InspectionSettings) -> list[PeriodicJob]:
    return [
        PeriodicJob(
            "inspection-rectification-escalation", settings.sweep_interval_seconds, escalate_overdue_rectifications
        ),
        PeriodicJob("inspection-publication-overdue", 60, measure_publication_overdue),
        PeriodicJob("inspection-draws-measure", 60, measure_draws),
    ]
