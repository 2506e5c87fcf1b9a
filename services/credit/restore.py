"""Restore the credit database and catch it up from the topics: ``python -m services.credit.restore``.

After ``pg_restore`` of a dump (however old; an empty migrated database works too) the credit
consumer group's committed offsets are ahead of the database: started as is, the service would
skip every event between the dump and now. This command, run with the service stopped against the
restored database (``CREDIT_DATABASE_URL``, the runtime role's):

1. checks that the ``childcare.credit`` consumer group has no members (a replica still running is
   named, not raced: the broker refuses its offsets to anyone else);
2. reads the three topics credit consumes from their beginning to their end offsets at that moment,
   merged in the order the records were appended (their timestamps), and applies them through the
   service's own consumer code (inbox, handlers, batches, dead letters) — the order the live
   consumer, reading as the records arrived, applied them in. The inbox skips every event the dump
   already holds;
3. commits those end offsets as the group's, then runs the service (consumer, relay and jobs, no
   HTTP) until the outbox is published, and stops.

What credit announces again (records opened, grades, list stays) carries the ids the live service
gave it (derived ids, ``shared.outbox``), so every downstream inbox drops it: reporting's ledger gets
no second entry. Why the order matters: a group merely rewound reads the small credit topic's
decisions (a policy activation) ahead of the domain events that came before them, and would
announce grades from states the live service never was in.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import text

from services.credit.app import create_app
from services.credit.consumers import make_consumers
from services.credit.env import CreditEnv
from services.credit.settings import CreditSettings
from shared.app import ServiceContext
from shared.consumer import MAX_BATCH, ConsumerRunner
from shared.db import Database, Timeouts
from shared.kafka import KafkaAccess
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.settings import ServiceSettings
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS, consumer_group, qualified

log = logging.getLogger(__name__)

CONSUMER = "credit"
TOPICS = (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS)


class GroupActive(RuntimeError):
    """The consumer group still has members: the service is running somewhere."""


@dataclass(frozen=True)
class CatchUp:
    records: int  # on the three topics when the catch-up started
    applied: int  # events the restored database did not hold yet
    announced: int  # events the catch-up wrote to the outbox (re-announcements under their live ids)
    seconds: float


async def _group_consumer(kafka: KafkaAccess, group: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    return consumer


async def _commit_refused_while_active(
    consumer: AIOKafkaConsumer, group: str, offsets: dict[TopicPartition, int], within: float
) -> None:
    """Commit as no member of the group: the broker refuses while it has members. A member that just
    stopped may linger until its session times out, so this retries ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            await consumer.commit(offsets)
            return
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise GroupActive(
                    f"consumer group {group} still has members ({type(exc).__name__}): stop every credit replica first"
                ) from exc
            await asyncio.sleep(1.0)


async def _ends_if_idle(
    kafka: KafkaAccess, group: str, topics: list[str], *, within: float = 60.0
) -> dict[TopicPartition, int]:
    """The end offsets of ``topics`` now, once the group is known to have no members (its committed
    offsets committed again, unchanged, as no member)."""
    consumer = await _group_consumer(kafka, group)
    try:
        partitions = await _partitions(consumer, topics)
        consumer.assign(partitions)
        current = {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
        await _commit_refused_while_active(consumer, group, current, within)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _commit(kafka: KafkaAccess, group: str, offsets: dict[TopicPartition, int], *, within: float = 60.0) -> None:
    consumer = await _group_consumer(kafka, group)
    try:
        consumer.assign(list(offsets))
        await _commit_refused_while_active(consumer, group, offsets, within)
    finally:
        await consumer.stop()


async def rewind(
    kafka: KafkaAccess, group: str, topics: list[str], *, within: float = 60.0
) -> dict[TopicPartition, int]:
    """What an operator's ``kafka-consumer-groups.sh --reset-offsets --to-earliest`` does: commit the
    beginning of every partition of ``topics`` as ``group``'s offsets (refused while it has members);
    returns the end offsets at that moment."""
    consumer = await _group_consumer(kafka, group)
    try:
        partitions = await _partitions(consumer, topics)
        consumer.assign(partitions)
        beginning = await consumer.beginning_offsets(partitions)
        await _commit_refused_while_active(consumer, group, dict(beginning), within)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def committed(kafka: KafkaAccess, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """``group``'s committed offsets (0 where it never committed)."""
    consumer = await _group_consumer(kafka, group)
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()
    found = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    missing = [t for t in topics if not consumer.partitions_for_topic(t)]
    if missing:
        raise RuntimeError(f"topics not found (not created, or not readable by this principal): {missing}")
    return found


async def _count(db: Database, sql: str) -> int:
    async with db.transaction() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def _merged(
    kafka: KafkaAccess, partitions: list[TopicPartition], ends: dict[TopicPartition, int]
) -> AsyncIterator[Any]:
    """The records of ``partitions`` up to ``ends``, in append order across partitions (timestamp,
    then topic, partition, offset), each partition's in offset order.

    A partition that runs dry is refilled with whatever every partition has fetched, all of it moved
    into these buffers: aiokafka sends no new fetch request to a broker while it holds a fetched,
    undelivered batch of any partition younger than its prefetch backoff (100 ms), so asking for the
    dry partition alone waited on the others' batches at almost every refill (at 1,000,000 events
    39 s of a 90 s read, twice the time per fetch of a 100,000-event read). Memory: about a fetched
    batch per partition here and the next one in aiokafka while the partitions' timestamps
    interleave, as the platform's producers write them; a partition whose records all come later
    than another's is buffered here until the merge reaches them (not yet bounded: pausing such a
    partition in the consumer would bound it)."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        buffers: dict[TopicPartition, deque[Any]] = {tp: deque() for tp in partitions}
        heads: list[tuple[int, str, int, int, TopicPartition]] = []

        def push(tp: TopicPartition) -> None:
            head = buffers[tp][0]
            heapq.heappush(heads, (head.timestamp, tp.topic, tp.partition, head.offset, tp))

        async def refill(tp: TopicPartition) -> None:
            while not buffers[tp] and await consumer.position(tp) < ends[tp]:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=MAX_BATCH)
                for other, records in fetched.items():
                    buffers[other].extend(r for r in records if r.offset < ends[other])
            if buffers[tp]:
                push(tp)

        for tp in partitions:
            if buffers[tp]:  # filled while an earlier one was refilled
                push(tp)
            else:
                await refill(tp)
        while heads:
            *_, tp = heapq.heappop(heads)
            yield buffers[tp].popleft()
            if buffers[tp]:
                push(tp)
            else:
                await refill(tp)
    finally:
        await consumer.stop()


async def restore(
    settings: ServiceSettings,
    db: Database,
    *,
    clock: Callable[[], datetime] | None = None,
    within: float = 3600.0,
) -> CatchUp:
    """Catch the restored database up in append order, hand the group its end offsets, publish."""
    started = time.monotonic()
    namespace = settings.kafka_namespace
    kafka = settings.kafka_access()
    group = consumer_group(namespace, CONSUMER)
    topics = [qualified(namespace, t) for t in TOPICS]
    app = create_app(settings.model_copy(update={"run_background_workers": True}), db, clock=clock)
    env: CreditEnv = app.state.credit_env
    context = ServiceContext(
        settings=settings, db=db, outbox=Outbox(source=settings.source, namespace=namespace), metrics=Metrics(CONSUMER)
    )
    (spec,) = make_consumers(env)(context)
    if qualified_all(namespace, spec.topics) != sorted(topics):
        raise RuntimeError("the credit consumer's topics are not the ones this command reads")  # drift guard
    runner = ConsumerRunner(
        name=spec.name,
        db=db,
        metrics=context.metrics,
        kafka=kafka,
        topics=spec.topics,
        handlers=spec.handlers,
        namespace=namespace,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff=settings.consumer_retry_backoff_seconds,
        producer_request_timeout_ms=settings.kafka_request_timeout_ms,
        delivery_timeout=settings.kafka_delivery_timeout_seconds,
    )
    applied_before = await _count(db, f"SELECT count(*) FROM inbox WHERE consumer = '{CONSUMER}'")
    outbox_before = await _count(db, "SELECT coalesce(max(id), 0) FROM outbox")
    ends = await _ends_if_idle(kafka, group, topics)
    log.warning("credit catching up from the topics", extra={"records": sum(ends.values())})
    try:
        chunk: list[Any] = []
        async for record in _merged(kafka, list(ends), ends):
            chunk.append(record)
            if len(chunk) >= MAX_BATCH:
                await runner._process_batch(chunk)
                chunk = []
        if chunk:
            await runner._process_batch(chunk)
    finally:
        await runner.stop()
        await runner._close_consumer()  # its dead-letter producer, if it needed one
    await _commit(kafka, group, ends)
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + within
        while (pending := await _count(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox not published within {within:g} s: {pending} rows left")
            await asyncio.sleep(0.5)
    applied = await _count(db, f"SELECT count(*) FROM inbox WHERE consumer = '{CONSUMER}'") - applied_before
    announced = await _count(db, f"SELECT count(*) FROM outbox WHERE id > {outbox_before}")
    return CatchUp(sum(ends.values()), applied, announced, time.monotonic() - started)


def qualified_all(namespace: str, topics: list[str]) -> list[str]:
    return sorted(qualified(namespace, t) for t in topics)


async def _main() -> None:
    settings = CreditSettings()
    if not settings.database_url:
        raise SystemExit(f"set {settings.setting_name('database_url')}: the restored database, as the runtime role")
    db = Database(settings.database_url, pool_size=settings.db_pool_size, timeouts=Timeouts.of(settings))
    try:
        result = await restore(settings, db)
        log.warning(
            "credit restored and caught up",
            extra={
                "records": result.records,
                "applied": result.applied,
                "announced": result.announced,
                "seconds": round(result.seconds, 1),
            },
        )
    except GroupActive as exc:
        raise SystemExit(str(exc)) from exc
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
