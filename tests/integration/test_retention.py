"""Outbox retention (shared.retention) on a real database as the service's runtime role: published
rows past ``outbox_retention_seconds`` are deleted, recent and unpublished ones are kept, and the
count is exported as ``childcare_outbox_pruned_total``."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from shared.app import ServiceContext
from shared.db import Database
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.retention import prune_outbox
from tests.support import settings_for

ROW = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, payload, created_at, published_at)"
    " VALUES (:id, 'childcare.filing.events', 'k', 'filing.test.v1', '{}',"
    " now() - make_interval(days => :created), now() - make_interval(days => :published))"
)


async def test_published_rows_past_their_retention_are_pruned(fresh_db: Callable[[str], str]) -> None:
    settings = settings_for("filing", outbox_retention_seconds=86_400)  # one day
    db = Database(fresh_db("filing"), pool_size=2)
    metrics = Metrics("filing")
    ctx = ServiceContext(settings=settings, db=db, outbox=Outbox(source=settings.source), metrics=metrics)
    try:
        async with db.transaction() as session:
            for n in range(5):  # published a week ago: pruned (two batches of 3 below)
                await session.execute(text(ROW), {"id": f"old-{n}", "created": 7, "published": 7})
            await session.execute(text(ROW), {"id": "recent", "created": 7, "published": 0})
            unpublished = ROW.replace("now() - make_interval(days => :published)", "NULL")
            await session.execute(text(unpublished), {"id": "waiting", "created": 30})
        assert await prune_outbox(ctx, batch=3) == 5
        async with db.transaction() as session:
            left = (await session.execute(text("SELECT event_id FROM outbox ORDER BY event_id"))).scalars().all()
        assert left == ["recent", "waiting"]
        assert await prune_outbox(ctx) == 0, "idempotent"
        assert b"childcare_outbox_pruned_total 5.0" in metrics.exposition()
    finally:
        await db.dispose()
