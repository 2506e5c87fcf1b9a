"""The relay's failure path: the broker stays down longer than the producer's delivery timeout.
Publishes fail (the relay gives up on each attempt within ``kafka_delivery_timeout_seconds``), the
rows stay unpublished with their error recorded, and once the broker is back they drain in commit
order, each exactly once. The broker is this test's own (the session's serves the other tests)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from devstack.kafka import LocalKafka
from shared.db import Database
from shared.events.filing import InstitutionSubmittedV1
from shared.kafka import make_producer
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.topics import FILING_EVENTS, qualified
from tests.support import admin_access, eventually, read_topic

INSTITUTION = uuid.uuid4()


async def _submit(db: Database, outbox: Outbox, name: str) -> None:
    async with db.transaction() as session:
        await outbox.add(
            session,
            InstitutionSubmittedV1(
                institution_id=INSTITUTION,
                uscc="91440106MA59XXXX0X",
                name=name,
                district_code="440106",
                street_code="440106001",
                submitted_at=datetime.now(UTC),
            ),
            subject=str(INSTITUTION),
        )


async def _scalar(db: Database, sql: str) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql))).scalar_one()


async def test_broker_down_longer_than_the_delivery_timeout_keeps_rows_and_drains_them_in_order_once(
    tmp_path: Any, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    broker = LocalKafka(tmp_path / "kafka-outage")
    broker.start()
    broker.provision(namespace)
    db = Database(fresh_db("filing"), pool_size=2)
    outbox = Outbox(source="/services/filing", namespace=namespace)
    delivery_timeout = 3.0
    relay = OutboxRelay(
        db,
        lambda: make_producer(admin_access(broker.bootstrap), client_id="outage", request_timeout_ms=2_000),
        Metrics("filing"),
        service="filing",
        send_timeout=delivery_timeout,
        poll_interval=0.2,
    )
    task = asyncio.create_task(relay.run())
    try:
        await _submit(db, outbox, "before-000")
        await eventually(
            lambda: _is(db, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"), within=30, every=0.2
        )
        await asyncio.to_thread(broker.kill)
        down_at = time.monotonic()
        names = [f"during-{n:03d}" for n in range(12)]
        for name in names:
            await _submit(db, outbox, name)
        # publishes fail, again and again, for longer than the delivery timeout; nothing is lost
        await eventually(
            lambda: _is(db, "SELECT coalesce(max(attempts), 0) >= 2 FROM outbox WHERE published_at IS NULL"),
            within=60,
            every=0.2,
        )
        await eventually(lambda: _true(time.monotonic() - down_at > 2 * delivery_timeout), within=30)
        assert relay.last_error is not None
        assert await _scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == len(names)
        assert await _scalar(db, "SELECT count(*) FROM outbox WHERE last_error IS NOT NULL") >= 1
        await asyncio.to_thread(broker.start)  # same data directory, same ports
        await eventually(
            lambda: _is(db, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"), within=120, every=0.5
        )
        records = await read_topic(broker.bootstrap, qualified(namespace, FILING_EVENTS))
        published = [json.loads(r.value)["data"]["name"] for r in sorted(records, key=lambda r: r.offset)]
        assert published == ["before-000", *names]  # one subject: one partition, commit order, once each
    finally:
        await relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
        broker.stop()


async def _is(db: Database, sql: str) -> bool:
    return bool(await _scalar(db, sql))


async def _true(value: bool) -> bool:
    return value
