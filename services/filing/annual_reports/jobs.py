"""The annual-report overdue sweep, run periodically inside the filing service."""

from __future__ import annotations

import logging

from services.filing.annual_reports.service import sweep_overdue
from services.filing.settings import FilingSettings
from shared.app import PeriodicJob, ServiceContext
from shared.workdays import china_today

log = logging.getLogger(__name__)

OVERDUE_GAUGE = "childcare_annual_reports_overdue"


def jobs(settings: FilingSettings | None = None) -> list[PeriodicJob]:
    # app.py builds the job list before it knows the service's settings, so the interval starts at
    # the configured default and the first run adopts the running service's own setting (the
    # runner reads job.interval_seconds afresh before every sleep).
    default = FilingSettings.model_fields["sweep_interval_seconds"].default
    job = PeriodicJob(
        name="annual_report_overdue_sweep",
        interval_seconds=settings.sweep_interval_seconds if settings is not None else default,
        run=lambda ctx: run_sweep(ctx, job),
    )
    return [job]


async def run_sweep(ctx: ServiceContext, job: PeriodicJob | None = None) -> None:
    """One sweep in one transaction: marks, their events and the gauge's count agree."""
    settings = ctx.settings
    if not isinstance(settings, FilingSettings):
        raise TypeError("the annual-report sweep needs FilingSettings")
    if job is not None:
        job.interval_seconds = settings.sweep_interval_seconds
    async with ctx.db.transaction() as session:
        result = await sweep_overdue(session, ctx.outbox, china_today(), settings)
    ctx.metrics.gauge(OVERDUE_GAUGE, "Annual reports marked overdue by the sweep and still not submitted.").set(
        result.outstanding
    )
    if result.marked:
        log.info("annual reports marked overdue", extra={"count": len(result.marked)})
