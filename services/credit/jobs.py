"""The scheduled re-evaluation: entries expire and grades recover when their period ends, with no
new event. Every subject is re-evaluated in its own short transaction; each change is published like
any other (``InstitutionGradedV1``, list left, ban lifted). Idempotent: a second run changes nothing."""

from __future__ import annotations

import logging

from services.credit import repository, service
from services.credit.service import CreditEnv
from services.credit.settings import CreditSettings
from shared.app import PeriodicJob, ServiceContext

log = logging.getLogger(__name__)


async def reevaluate_all(ctx: ServiceContext, env: CreditEnv, *, reason: str = "定期重新评价（计分期届满）") -> int:
    """Re-evaluate every subject as of ``env.now()``; returns how many grades changed."""
    changed = 0
    after: tuple[str, str] | None = None
    while True:
        async with ctx.db.transaction() as session:
            keys = await repository.list_subject_keys(session, after=after, limit=200)
        if not keys:
            break
        for kind, subject_id in keys:
            async with ctx.db.transaction() as session:
                standing = await repository.standing_of(session, kind, subject_id)
                before = standing.grade if standing is not None else None
                result = await service.reevaluate(
                    session, ctx.outbox, env, kind=kind, subject_id=subject_id, reason=reason
                )
                if result is not None and result.grade != before:
                    changed += 1
        after = keys[-1]
    if changed:
        log.info("credit grades changed on re-evaluation", extra={"count": changed})
    ctx.metrics.counter("childcare_credit_regrades", "Grade changes found by the scheduled re-evaluation.").inc(changed)
    return changed


def jobs(env: CreditEnv, settings: CreditSettings) -> list[PeriodicJob]:
    async def run(ctx: ServiceContext) -> None:
        await reevaluate_all(ctx, env)

    return [PeriodicJob(name="credit_reevaluation", interval_seconds=settings.reevaluate_interval_seconds, run=run)]
