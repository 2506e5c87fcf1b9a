"""P1 (outbox → Kafka → credit and reporting read models) and the bare Kafka baselines of P1 and P3.

The platform path runs the real kit in this process: ``OutboxRelay`` over the filing database, and
``ConsumerRunner`` with the credit and reporting services' own consumer specs (decode, inbox claim,
handler, commit, offset commit). The baseline runs bare aiokafka the same way: one producer, two
consumer groups, in the same event loop, on the same records.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import event

from bench import events
from bench.infra import Stack, cpu_seconds, percentile, plain_url
from devstack.kafka import LocalKafka
from services.credit.consumers import make_consumers as credit_consumers
from services.credit.env import CreditEnv
from services.credit.policy.documents import POLICY_DIR, default_registry
from services.credit.settings import CreditSettings
from services.reporting.consumers import consumers as reporting_consumers
from services.reporting.settings import ReportingSettings
from shared.app import ServiceContext
from shared.consumer import ConsumerRunner
from shared.db import Database
from shared.kafka import make_producer
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.settings import ServiceSettings
from shared.topics import FILING_EVENTS, consumer_group, qualified

PARTITIONS = 6  # ServiceSettings.topic_partitions default


async def create_topics(kafka: LocalKafka, namespace: str) -> None:
    """The namespace's topics, dead-letter topics and the services' ACLs, as the admin step makes them."""
    await asyncio.to_thread(kafka.provision, namespace, partitions=PARTITIONS)


class StatementCounter:
    """Counts the SQL statements and commits a ``Database`` sends (SQLAlchemy engine events)."""

    def __init__(self, db: Database) -> None:
        self.statements = 0
        self.commits = 0
        sync_engine = db.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", self._statement)
        event.listen(sync_engine, "commit", self._commit)

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


def consumed(metrics: Metrics, consumer: str) -> int:
    """Events a runner has finished (applied, duplicate, ignored or dead-lettered)."""
    total = 0.0
    for family in metrics.events_consumed.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("consumer") == consumer:
                total += sample.value
    return int(total)


@dataclass
class Runner:
    runner: ConsumerRunner
    metrics: Metrics
    db: Database
    task: asyncio.Task[None] | None = None

    @property
    def done(self) -> int:
        return consumed(self.metrics, self.runner.name)

    async def start(self, *, wait_assigned: bool = True) -> None:
        self.task = asyncio.create_task(self.runner.run())
        await asyncio.wait_for(self.runner.started.wait(), 60)
        if wait_assigned:
            deadline = time.monotonic() + 60
            while not (self.runner._consumer and self.runner._consumer.assignment()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.runner.name} got no partitions")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.runner.stop()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 30)
            except TimeoutError:
                self.task.cancel()
        await self.db.dispose()


def _runner(service: str, settings: ServiceSettings, url: str, specs: Callable[[ServiceContext], list[Any]]) -> Runner:
    db = Database(url, pool_size=settings.db_pool_size)
    metrics = Metrics(service)
    ctx = ServiceContext(
        settings=settings,
        db=db,
        outbox=Outbox(source=settings.source, namespace=settings.kafka_namespace),
        metrics=metrics,
    )
    (spec,) = specs(ctx)
    runner = ConsumerRunner(
        name=spec.name,
        db=db,
        metrics=metrics,
        kafka=settings.kafka_access(),
        topics=spec.topics,
        handlers=spec.handlers,
        namespace=settings.kafka_namespace,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff=settings.consumer_retry_backoff_seconds,
        session_timeout_ms=settings.consumer_session_timeout_ms,
    )
    return Runner(runner, metrics, db)


def credit_runner(stack: Stack, namespace: str, url: str) -> Runner:
    settings = CreditSettings(environment="test", kafka_bootstrap_servers=stack.bootstrap, kafka_namespace=namespace)
    env = CreditEnv(
        registry=default_registry(str(POLICY_DIR)), default_version=settings.default_policy_version, now=_now
    )
    return _runner("credit", settings, url, credit_consumers(env))


def reporting_runner(stack: Stack, namespace: str, url: str) -> Runner:
    settings = ReportingSettings(environment="test", kafka_bootstrap_servers=stack.bootstrap, kafka_namespace=namespace)
    return _runner("reporting", settings, url, reporting_consumers)


def _now() -> datetime:
    return datetime.now(UTC)


async def wait_for(check: Callable[[], bool], *, within: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(every)


# --- P1 --------------------------------------------------------------------------------------------


def _client_options(stack: Stack, principal: str, *, plaintext: bool) -> dict[str, Any]:
    """How a bare client connects: as the service's principal over SASL/SCRAM with its ACLs (what
    the platform does), or over the bench broker's unauthenticated baseline listener (S1)."""
    if plaintext:
        assert stack.kafka.plaintext_baseline_port is not None
        return {"bootstrap_servers": f"127.0.0.1:{stack.kafka.plaintext_baseline_port}"}
    return stack.kafka.access(principal).aiokafka()


async def p1_bare(stack: Stack, n: int, *, plaintext: bool = False) -> dict[str, float]:
    """Seconds to produce ``n`` records (acks=all, idempotent, as the relay does) and have two
    consumer groups read and commit all of them; as filing, credit and reporting (SASL/SCRAM,
    ACLs), or without authentication (``plaintext``, S1's baseline)."""
    ns = f"p1b{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)
    recs = list(events.records(n, ns))
    topic = recs[0].topic
    consumers = [
        AIOKafkaConsumer(
            topic,
            **_client_options(stack, name, plaintext=plaintext),
            group_id=consumer_group(ns, name),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=200,
        )
        for name in ("credit", "reporting")
    ]
    for c in consumers:
        await c.start()
    counts = [0, 0]

    async def consume(i: int, consumer: AIOKafkaConsumer) -> None:
        while counts[i] < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, records in batch.items():
                counts[i] += len(records)
                await consumer.commit({tp: records[-1].offset + 1})

    # join the groups before the clock starts, as the platform's runners do
    for c in consumers:
        while not c.assignment():
            await c.getmany(timeout_ms=100)
    producer = AIOKafkaProducer(
        **_client_options(stack, "filing", plaintext=plaintext),
        client_id="bench-bare",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )  # shared.kafka.make_producer's settings
    await producer.start()
    try:
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        tasks = [asyncio.create_task(consume(i, c)) for i, c in enumerate(consumers)]
        futures = [await producer.send(r.topic, r.value, key=r.key) for r in recs]
        await asyncio.gather(*futures)
        await asyncio.wait_for(asyncio.gather(*tasks), 600)
        return {"seconds": time.perf_counter() - started, "cpu_ms_per_event": 1000 * (cpu_seconds() - cpu0) / n}
    finally:
        await producer.stop()
        for c in consumers:
            await c.stop()


async def connect_seconds(stack: Stack, samples: int, *, plaintext: bool) -> dict[str, float]:
    """Seconds for a new producer to connect and fetch metadata (the SCRAM exchange is per
    connection), as filing or over the baseline listener: median and p90 of ``samples``."""
    ns = f"s1c{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)
    topic = qualified(ns, FILING_EVENTS)
    times: list[float] = []
    for _ in range(samples):
        producer = AIOKafkaProducer(**_client_options(stack, "filing", plaintext=plaintext))
        started = time.perf_counter()
        await producer.start()
        await producer.partitions_for(topic)
        times.append(time.perf_counter() - started)
        await producer.stop()
    return {"p50_ms": 1000 * percentile(times, 50), "p90_ms": 1000 * percentile(times, 90)}


async def fill_outbox(url: str, recs: list[events.Record]) -> None:
    """Committed outbox rows, written as ``Outbox.add`` would (setup, not timed)."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.copy_records_to_table(
            "outbox",
            records=[(r.event_id, r.topic, r.key.decode(), _event_type(r.value), r.value.decode()) for r in recs],
            columns=["event_id", "topic", "message_key", "event_type", "payload"],
        )
    finally:
        await conn.close()


def _event_type(value: bytes) -> str:
    marker = b'"type":"'
    start = value.index(marker) + len(marker)
    return value[start : value.index(b'"', start)].decode()


async def p1_platform(stack: Stack, n: int, *, profile: Any = None) -> dict[str, float]:
    """Seconds from ``n`` committed outbox rows to both read models having applied them all."""
    ns = f"p1p{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)
    filing_url = stack.fresh_db("filing", "p1")
    await fill_outbox(filing_url, list(events.records(n, ns)))
    runners = [
        credit_runner(stack, ns, stack.fresh_db("credit", "p1")),
        reporting_runner(stack, ns, stack.fresh_db("reporting", "p1")),
    ]
    filing_db = Database(filing_url, pool_size=2)
    relay = OutboxRelay(
        filing_db,
        lambda: make_producer(stack.kafka.access("filing"), client_id="filing-outbox"),
        Metrics("filing"),
        service="filing",
    )
    relay_task: asyncio.Task[None] | None = None
    counters = [StatementCounter(r.db) for r in runners]
    for r in runners:
        await r.start()
    try:
        if profile is not None:
            profile.enable()
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        relay_task = asyncio.create_task(relay.run())
        await wait_for(lambda: all(r.done >= n for r in runners), within=3600, every=0.02)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - cpu0
        if profile is not None:
            profile.disable()
        return {
            "seconds": elapsed,
            "cpu_ms_per_event": 1000 * cpu / n,
            "credit_statements_per_event": counters[0].statements / n,
            "reporting_statements_per_event": counters[1].statements / n,
        }
    finally:
        await relay.stop()
        if relay_task is not None:
            relay_task.cancel()
        for r in runners:
            await r.stop()
        await filing_db.dispose()


# --- P3 baseline -----------------------------------------------------------------------------------


async def p3_bare(stack: Stack, samples: int) -> dict[str, float]:
    """Produce one record at a time (aiokafka defaults: acks=1, linger 0) and time until a consumer
    already at the end of the partition has it."""
    ns = f"p3b{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)
    topic = f"{ns}childcare.filing.events"
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(**stack.kafka.access().aiokafka(), enable_auto_commit=False)
    await consumer.start()
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    await consumer.position(tp)
    producer = AIOKafkaProducer(**stack.kafka.access().aiokafka())
    await producer.start()
    latencies: list[float] = []
    try:
        payload = next(events.records(1, ns)).value
        for i in range(samples + 10):
            started = time.perf_counter()
            await producer.send(topic, payload, key=str(i).encode(), partition=0)
            got = False
            while not got:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                got = bool(batch.get(tp))
            if i >= 10:  # the first few warm up connections and metadata
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "samples": len(latencies)}
