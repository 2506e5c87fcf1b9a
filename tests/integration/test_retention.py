"""Outbox retention (shared.retention) on a real database as the service's runtime role: published
rows past ``outbox_retention_seconds`` are deleted, recent and unpublished ones are kept, and the
count is exported as ``childcare_outbox_pruned_total``."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import text

from devstack.kafka import LocalKafka
from services.filing.app import create_app
from shared.app import ServiceContext
from shared.db import Database
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.retention import prune_outbox
from tests.support import eventually, running, settings_for

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


async def test_every_service_runs_the_pruning_job(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """The kit starts ``outbox_prune`` in every service (here filing) at its interval."""
    url = fresh_db("filing")
    db = Database(url, pool_size=3)
    settings = settings_for(
        "filing",
        kafka_bootstrap_servers=kafka.bootstrap,
        kafka_namespace=namespace,
        outbox_retention_seconds=86_400,
        outbox_prune_interval_seconds=0.2,
    )
    app = create_app(settings, db)
    try:
        async with running(app) as client:

            async def pruned() -> bool:
                async with db.transaction() as session:
                    await session.execute(text(ROW), {"id": f"old-{uuid.uuid4()}", "created": 3, "published": 2})
                metrics = (await client.get("/metrics")).text
                return "childcare_outbox_pruned_total 0.0" not in metrics

            await eventually(pruned, within=20)
            old = "SELECT count(*) FROM outbox WHERE published_at < now() - interval '1 day'"
            await eventually(lambda: _zero(db, old), within=5)
    finally:
        await db.dispose()


async def _zero(db: Database, sql: str) -> bool:
    async with db.transaction() as session:
        return int((await session.execute(text(sql))).scalar_one()) == 0
