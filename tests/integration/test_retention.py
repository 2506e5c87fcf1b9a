"""Outbox and inbox retention (shared.retention) on a real database as the service's runtime role:
published rows past ``outbox_retention_seconds`` are deleted, recent and unpublished ones are kept,
and the count is exported as ``childcare_outbox_pruned_total``; inbox ids past
``inbox_retention_seconds`` likewise (``childcare_inbox_pruned_total``), a setting refused unless the
topics' retention is finite and no longer than it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from devstack.kafka import LocalKafka
from services.filing.app import create_app
from shared.app import ServiceContext
from shared.db import Database
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.retention import prune_inbox, prune_outbox
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


INBOX_ROW = (
    "INSERT INTO inbox (consumer, event_source, event_id, event_type, processed_at)"
    " VALUES (:consumer, '/services/filing', :id, 'filing.test.v1', now() - make_interval(days => :age))"
)
DAY_MS = 86_400_000


async def test_inbox_ids_past_their_retention_are_pruned(fresh_db: Callable[[str], str]) -> None:
    """Topics keeping records 3 days (retention plus a segment), inbox ids kept 4: an id processed 5
    days ago names a record the topics no longer hold and goes; one processed 2 days ago could
    still be delivered again by a group reset and stays, as does the id of a record just applied."""
    settings = settings_for("credit", kafka_topic_retention_ms=3 * DAY_MS, inbox_retention_seconds=4 * 86_400)
    db = Database(fresh_db("credit"), pool_size=2)
    metrics = Metrics("credit")
    ctx = ServiceContext(settings=settings, db=db, outbox=Outbox(source=settings.source), metrics=metrics)
    try:
        async with db.transaction() as session:
            for n in range(5):
                await session.execute(text(INBOX_ROW), {"consumer": "credit-filing", "id": f"old-{n}", "age": 5})
            await session.execute(text(INBOX_ROW), {"consumer": "credit-filing", "id": "replayable", "age": 2})
            await session.execute(text(INBOX_ROW), {"consumer": "credit-inspection", "id": "fresh", "age": 0})
        assert await prune_inbox(ctx, batch=2) == 5
        async with db.transaction() as session:
            left = (await session.execute(text("SELECT event_id FROM inbox ORDER BY event_id"))).scalars().all()
        assert left == ["fresh", "replayable"]
        assert await prune_inbox(ctx) == 0, "idempotent"
        assert b"childcare_inbox_pruned_total 5.0" in metrics.exposition()
    finally:
        await db.dispose()


async def test_inbox_ids_are_kept_when_no_retention_is_set(fresh_db: Callable[[str], str]) -> None:
    """The default: topics keep records forever, so no inbox id is ever pruned, however old."""
    settings = settings_for("credit")
    assert settings.inbox_retention_seconds is None
    db = Database(fresh_db("credit"), pool_size=2)
    ctx = ServiceContext(settings=settings, db=db, outbox=Outbox(source=settings.source), metrics=Metrics("credit"))
    try:
        async with db.transaction() as session:
            await session.execute(text(INBOX_ROW), {"consumer": "credit-filing", "id": "ancient", "age": 3650})
        assert await prune_inbox(ctx) == 0
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 1
    finally:
        await db.dispose()


def test_an_inbox_retention_within_the_topics_retention_is_refused() -> None:
    with pytest.raises(ValidationError, match="CREDIT_INBOX_RETENTION_SECONDS.*keep records forever"):
        settings_for("credit", inbox_retention_seconds=30 * 86_400)
    with pytest.raises(ValidationError, match="CREDIT_INBOX_RETENTION_SECONDS.*shorter than the topics' retention"):
        settings_for("credit", kafka_topic_retention_ms=7 * DAY_MS, inbox_retention_seconds=6 * 86_400)
    accepted = settings_for("credit", kafka_topic_retention_ms=7 * DAY_MS, inbox_retention_seconds=7 * 86_400)
    assert accepted.inbox_retention_seconds == 7 * 86_400


def test_a_consumer_request_timeout_within_the_session_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="CREDIT_KAFKA_CONSUMER_REQUEST_TIMEOUT_MS"):
        settings_for("credit", consumer_session_timeout_ms=10_000, kafka_consumer_request_timeout_ms=10_000)


async def test_a_service_with_an_inbox_retention_runs_the_inbox_job(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """The kit starts ``inbox_prune`` when the deployment sets an inbox retention; the consumers'
    own timeouts are the settings'."""
    url = fresh_db("filing")
    db = Database(url, pool_size=3)
    settings = settings_for(
        "filing",
        kafka_bootstrap_servers=kafka.bootstrap,
        kafka_namespace=namespace,
        kafka_topic_retention_ms=DAY_MS,
        inbox_retention_seconds=86_400,
        inbox_prune_interval_seconds=0.2,
        kafka_consumer_request_timeout_ms=21_000,
    )
    app = create_app(settings, db)
    try:
        async with running(app) as client:

            async def pruned() -> bool:
                async with db.transaction() as session:
                    await session.execute(text(INBOX_ROW), {"consumer": "filing-x", "id": str(uuid.uuid4()), "age": 2})
                metrics = (await client.get("/metrics")).text
                return "childcare_inbox_pruned_total 0.0" not in metrics

            await eventually(pruned, within=20)
            old = "SELECT count(*) FROM inbox WHERE processed_at < now() - interval '1 day'"
            await eventually(lambda: _zero(db, old), within=5)
            runners = app.state.runtime.consumers
            assert runners, "filing consumes"
            assert {r.request_timeout_ms for r in runners} == {21_000}
    finally:
        await db.dispose()
