"""Background jobs: sign a checkpoint whenever the tree has grown, so agencies always find a
recent signed tree head even if nobody asked for one."""

from __future__ import annotations

from typing import cast

from services.reporting.ledger import service
from services.reporting.settings import ReportingSettings
from shared.app import PeriodicJob, ServiceContext


async def sign_checkpoint(ctx: ServiceContext) -> None:
    settings = cast(ReportingSettings, ctx.settings)
    async with ctx.db.transaction() as session:
        await service.publish_checkpoint(session, settings.ledger_signer())


def jobs(settings: ReportingSettings) -> list[PeriodicJob]:
    return [PeriodicJob("ledger-checkpoint", settings.ledger_checkpoint_interval_seconds, sign_checkpoint)]
