"""P4 (replay) and P6 (growth): rebuild the credit and reporting read models from the topics.

A dataset of N filing events is produced straight to a namespace's topics (with the ledger topic's
``entry_shared.v2`` records that name each event in order, as the live reporting service would have
left them). Then, one after the other:

* bare: one aiokafka consumer reads every record of the topics the rebuild reads, to their end;
* credit: a fresh consumer group (the real ``ConsumerRunner`` with the credit service's handlers)
  into an empty, migrated credit database, until it has finished all N events;
* reporting: ``services/reporting/rebuild.py`` into an empty, migrated reporting database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import events
from bench.infra import RssSampler, Stack, cpu_seconds, rss_mib
from bench.pipeline import StatementCounter, create_topics, credit_runner, wait_for
from services.reporting.rebuild import rebuild
from services.reporting.settings import ReportingSettings
from shared.db import Database
from shared.events import CloudEvent
from shared.events.reporting import LedgerEntrySharedV2
from shared.outbox import Outbox
from shared.topics import DOMAIN_TOPICS, FILING_EVENTS, LEDGER_CHANGES, qualified


def _ledger_record(namespace: str, index: int, envelope: CloudEvent, outbox: Outbox) -> events.Record:
    """The rebuild reads only the order (source and id) from these; the leaf hash is a stand-in
    (hashing the canonical leaf is what the rebuild itself does, and is timed there)."""
    shared = LedgerEntrySharedV2(
        index=index,
        leaf_hash=base64.b64encode(hashlib.sha256(envelope.id.encode()).digest()).decode(),
        event_id=envelope.id,
        event_source=envelope.source,
        event_type=envelope.type,
        event_time=envelope.time,
        recorded_at=envelope.time,
    )
    out = outbox.envelope(shared, subject="ledger", at=envelope.time)
    return events.Record(qualified(namespace, LEDGER_CHANGES), b"ledger", out.to_json().encode(), out.id)


def _dataset(namespace: str, n: int) -> Iterator[events.Record]:
    ledger_outbox = Outbox(source="/services/reporting")
    topic = qualified(namespace, FILING_EVENTS)
    for index, envelope in enumerate(events.envelopes(n)):
        yield events.Record(topic, envelope.subject.encode(), envelope.to_json().encode(), envelope.id)
        yield _ledger_record(namespace, index, envelope, ledger_outbox)


async def produce_dataset(stack: Stack, n: int) -> str:
    """A new namespace holding ``n`` filing events and their ``n`` ledger records."""
    namespace = f"r{n}{uuid.uuid4().hex[:4]}."
    await create_topics(stack.kafka, namespace)
    producer = AIOKafkaProducer(
        **stack.kafka.access().aiokafka(), acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    try:
        pending = []
        for record in _dataset(namespace, n):
            pending.append(await producer.send(record.topic, record.value, key=record.key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return namespace


async def bare_consume(stack: Stack, namespace: str, topics: list[str]) -> dict[str, float]:
    """Seconds to read every record of ``topics`` (all partitions) from the beginning to the end."""
    consumer = AIOKafkaConsumer(
        **stack.kafka.access().aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(qualified(namespace, t), p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(qualified(namespace, t)) or ())
        ]
        cpu0 = cpu_seconds()
        started = time.perf_counter()  # before the assignment: the fetcher starts reading at once
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        total = sum(end.values())
        seen = 0
        while seen < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return {"seconds": time.perf_counter() - started, "records": seen, "cpu_seconds": cpu_seconds() - cpu0}
    finally:
        await consumer.stop()


async def credit_replay(stack: Stack, namespace: str, n: int, *, profile: Any = None) -> dict[str, float]:
    runner = credit_runner(stack, namespace, stack.fresh_db("credit", "p4"))
    counter = StatementCounter(runner.db)
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        await runner.start(wait_assigned=False)  # joining the group is part of a replay
        await wait_for(lambda: runner.done >= n, within=6 * 3600, every=0.1)
        return {
            "seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds() - cpu0,
            "statements_per_event": counter.statements / n,
            "commits_per_event": counter.commits / n,
        }
    finally:
        if profile is not None:
            profile.disable()
        await runner.stop()


async def reporting_rebuild(stack: Stack, namespace: str, n: int, *, profile: Any = None) -> dict[str, float]:
    settings = ReportingSettings(environment="test", kafka_bootstrap_servers=stack.bootstrap, kafka_namespace=namespace)
    db = Database(stack.fresh_db("reporting", "p4"), pool_size=2)
    counter = StatementCounter(db)
    rss0 = rss_mib()
    try:
        with RssSampler({"bench": os.getpid()}) as sampler:
            cpu0 = cpu_seconds()
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            result = await rebuild(db, settings)
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds() - cpu0
        if result.tree_size != n:
            raise RuntimeError(f"rebuild appended {result.tree_size} of {n}")
        return {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "peak_rss_growth_mib": sampler.peak["bench"] - rss0,
            "statements_per_event": counter.statements / n,
            "commits_per_event": counter.commits / n,
        }
    finally:
        await db.dispose()


async def replay(stack: Stack, n: int) -> dict[str, Any]:
    produce_started = time.perf_counter()
    namespace = await produce_dataset(stack, n)
    out: dict[str, Any] = {"n": n, "produce_seconds": time.perf_counter() - produce_started}
    out["bare_domain"] = await bare_consume(stack, namespace, list(DOMAIN_TOPICS))
    out["bare_with_ledger"] = await bare_consume(stack, namespace, [*DOMAIN_TOPICS, LEDGER_CHANGES])
    # One read model after the other: in production each is its own service process with its own
    # core; run side by side in this one process they would share one core and each one's time would
    # measure the other's load too (an earlier version did, and its P6 moved with the neighbour).
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    out["credit"] = await credit_replay(stack, namespace, n)
    out["reporting"] = await reporting_rebuild(stack, namespace, n)
    out["both_seconds"] = time.perf_counter() - started
    out["both_cpu_ms_per_event"] = 1000 * (cpu_seconds() - cpu0) / n
    out["namespace"] = namespace
    return out
