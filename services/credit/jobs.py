"""The scheduled re-evaluation: entries expire and grades recover when their period ends, with no
new event. Every subject is re-evaluated in its own short transaction; each change is published like
any other (``InstitutionGradedV1`` or ``InstitutionRescoredV1``, list left, ban lifted). History
rows and list exits are dated when the period ended, not when this job noticed. Idempotent: a
second run changes nothing."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from services.credit import repository
from services.credit.env import CreditEnv
from services.credit.evaluation import service as evaluation_service
from services.credit.models import CreditGradeHistory
from services.credit.settings import CreditSettings
from shared.app import PeriodicJob, ServiceContext

log = logging.getLogger(__name__)


async def reevaluate_all(ctx: ServiceContext, env: CreditEnv) -> int:
    """Re-evaluate every subject as of ``env.now()``; returns how many stored grades changed (an
    ungraded subject that stays ungraded is no change)."""
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
                await evaluation_service.reevaluate(session, ctx.outbox, env, kind=kind, subject_id=subject_id)
                # A change is what the stored standing shows: a subject without credit information is
                # not graded (no standing before or after), so its evaluation is no change.
                standing = await repository.standing_of(session, kind, subject_id)
                if (standing.grade if standing is not None else None) != before:
                    changed += 1
        after = keys[-1]
    if changed:
        log.info("credit grades changed on re-evaluation", extra={"count": changed})
    ctx.metrics.counter("childcare_credit_regrades", "Grade changes found by the scheduled re-evaluation.").inc(changed)
    return changed


async def measure_grade_changes(ctx: ServiceContext) -> None:
    """Domain SLA metric "grade changes": every recorded change of grade (events and re-evaluation
    alike), by subject kind. Read from the history table, so every replica reports the same number
    and a restart does not reset it; dashboards take ``delta()`` of it."""
    history = CreditGradeHistory
    changed = history.previous_grade.is_not(None) & (history.previous_grade != history.grade)
    async with ctx.db.transaction() as session:
        rows = (
            await session.execute(
                select(history.subject_kind, func.count()).where(changed).group_by(history.subject_kind)
            )
        ).all()
    gauge = ctx.metrics.gauge(
        "childcare_credit_grade_changes", "Credit grade changes recorded, by subject kind.", ("subject_kind",)
    )
    counts = {kind: count for kind, count in rows}
    for kind in ("institution", "person", *counts):
        gauge.labels(subject_kind=kind).set(counts.get(kind, 0))


def jobs(env: CreditEnv, settings: CreditSettings) -> list[PeriodicJob]:
    async def run(ctx: ServiceContext) -> None:
        await reevaluate_all(ctx, env)

    return [
        PeriodicJob(name="credit_reevaluation", interval_seconds=settings.reevaluate_interval_seconds, run=run),
        PeriodicJob(name="credit_grade_changes_measure", interval_seconds=60, run=measure_grade_changes),
    ]
