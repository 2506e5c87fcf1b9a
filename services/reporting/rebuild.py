"""Rebuild the ledger and the statistics projections into an empty reporting database by
replaying the topics.

The ledger's order is the order the live consumer happened to read three multi-partition topics
in, which a replay cannot reproduce by itself. That order is on record, though: the single-partition
ledger topic holds one ``entry_shared`` record per entry, in index order, naming the source event
(``entry_shared.v2``; older ``entry_shared.v1`` records are read as v2 through their upcaster).
So the rebuild reads the ledger topic for the order and the domain topics for the events, and
appends them in that order: the same leaves in the same order give the same root at every size.
Events on the domain topics that the ledger topic does not mention yet (appended after the last
record was published, or never) follow in topic/partition/offset order, and are announced then.
Each event is projected into the statistics tables too (in its chunk's transaction, or by a
projection worker: see ``workers``); the projections do not depend on the order (see
``stats.projections``), so they equal the live ones.

Memory stays flat in the size of the log: the ledger topic and the domain topics are read side by
side, and only the domain records read ahead of their turn are held (the live consumer read the
partitions side by side too, so that is a window, not the log); then the unmentioned tail.

The bulk path. Events are appended in chunks of ``batch``, one transaction each: one statement
claims the chunk in the consumer's inbox (an event the topics hold twice, or one a restored dump
holds already, is dropped there, so a live consumer started afterwards adds nothing twice); the
leaves, the Merkle subtrees they complete and the new head are computed in memory by the live
append's own functions (``LeafFormat.leaf_for``, ``service.compute_appends``: one copy of the leaf
and tree rules) and the entries and ``ledger_node`` rows are written with COPY; the tail's
``entry_shared`` announcements go through the outbox exactly as the live append makes them.

``workers`` (default 1). With 1, each chunk's events are projected into the statistics tables in
the chunk's transaction, as the live consumer does; this also works on a non-empty database (a
restored dump: docs/reliability.md). With ``workers`` > 1 the projections, which do not depend on
the order (``stats.projections``), run in that many spawned processes, each with its own event
loop, database pool and Kafka consumer over a disjoint share of the domain-topic partitions
(every ``workers``-th partition by rank), one transaction per chunk. This process stays the single
writer of the ledger, the only thing whose order matters; it also writes the inbox for every event.

If a run fails. With 1 worker every chunk commits its entries, inbox rows and projections together,
so a failed run leaves a consistent prefix and running again continues after it. With projection
workers the ledger and the projections commit separately, so: the parallel rebuild refuses a
database that is not empty (``RebuildRefused``); the first failure (the writer's exception or a
worker's non-zero exit) terminates the other processes and is raised; and ``ledger_head`` is
written once, last, after every worker succeeded, so until the run succeeds the ledger reads as
empty (``/v1/ledger`` shows tree size 0, ``verify`` reports the entries beyond the head) and any
run on it is refused. The operator's step after a failure: drop that database, create and migrate
it again, rerun. Start the service on the rebuilt database only after the rebuild returned.

``python -m services.reporting.rebuild [--workers N]`` runs it against the configured database
(REPORTING_*).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import multiprocessing
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.consumers import CONSUMER
from services.reporting.ledger import repository, service
from services.reporting.settings import ReportingSettings
from services.reporting.stats.projections import project
from shared.batch import SCOPE_KEY, BatchScope
from shared.consumer import is_transient
from shared.db import Database, driver_connection
from shared.events import CloudEvent, DecodedEvent, PoisonEvent, decode
from shared.events.reporting import LedgerEntrySharedV2
from shared.grants import load_grants
from shared.kafka import KafkaAccess
from shared.kafka_access import source_allowed
from shared.outbox import Outbox
from shared.topics import DOMAIN_TOPICS, LEDGER_CHANGES, qualified

log = logging.getLogger(__name__)


class _Reader:
    """The records of some topics from their beginning to their end offsets as of ``start()``."""

    def __init__(
        self, kafka: KafkaAccess, topics: list[str], *, within: float, share: tuple[int, int] = (0, 1)
    ) -> None:
        self.kafka = kafka
        self.topics = topics
        self.within = within
        self.share = share  # (k, n): the k-th of n disjoint sets of the partitions, by their rank
        self._consumer: AIOKafkaConsumer | None = None
        self.end: dict[TopicPartition, int] = {}
        self.open: set[TopicPartition] = set()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(**self.kafka.aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        self._consumer = consumer
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        k, n = self.share
        partitions = partitions[k::n]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self.end = await consumer.end_offsets(partitions)
        self.open = {tp for tp in partitions if self.end[tp] > 0}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def next_batch(self) -> list[Any] | None:
        """The next records (with topic, partition and offset), or None once every partition is read."""
        consumer = self._consumer
        assert consumer is not None
        deadline = asyncio.get_running_loop().time() + self.within
        while self.open:
            batch = await consumer.getmany(*self.open, timeout_ms=500)
            records = [r for tp, rs in batch.items() for r in rs if r.offset < self.end[tp] and r.value is not None]
            for tp in list(self.open):
                if await consumer.position(tp) >= self.end[tp]:
                    self.open.discard(tp)
            if records:
                return records
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"could not read {sorted(str(tp) for tp in self.open)} to the end")
        return None


@dataclass(frozen=True)
class RebuildResult:
    appended: int
    in_recorded_order: int
    tree_size: int


Key = tuple[str, str]


class RebuildRefused(RuntimeError):
    """The partition-parallel rebuild runs only into an empty database (see the module docstring)."""


class ProjectionWorkerFailed(RuntimeError):
    pass


def _domain_event(record: Any, namespace: str) -> DecodedEvent | None:
    """A domain record as the live consumer would apply it; None for what it dead-letters instead
    (undecodable, or from a source the topic does not accept): those never entered the ledger."""
    try:
        event = decode(record.value)
    except PoisonEvent:
        return None
    if not source_allowed(namespace, record.topic, event.envelope.source):
        return None
    return event


# The inbox claim of a chunk in one statement with the rows as arrays: the live consumer's claim
# (shared.consumer.claim_inbox_many: insert, skip the ids present, return the fresh ones) without
# SQLAlchemy's per-row parameter processing. Not COPY: the claim is what drops an event the topics
# hold twice, and COPY has no ON CONFLICT.
_CLAIM_INBOX = (
    "INSERT INTO inbox (consumer, event_source, event_id, event_type)"
    " SELECT $1, s, i, t FROM unnest($2::text[], $3::text[], $4::text[]) AS u(s, i, t)"
    " ON CONFLICT DO NOTHING RETURNING event_source, event_id"
)


async def _claim_inbox(session: AsyncSession, envelopes: list[CloudEvent]) -> set[Key]:
    if not envelopes:
        return set()
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _CLAIM_INBOX,
        CONSUMER,
        [e.source for e in envelopes],
        [e.id for e in envelopes],
        [e.type for e in envelopes],
    )
    return {(str(r[0]), str(r[1])) for r in rows}


async def _is_empty(db: Database) -> bool:
    async with db.transaction() as session:
        row = await session.execute(
            text(
                "SELECT (SELECT size FROM ledger_head WHERE id = 1) = 0"
                " AND NOT EXISTS (SELECT 1 FROM ledger_entry) AND NOT EXISTS (SELECT 1 FROM inbox)"
            )
        )
        return bool(row.scalar_one())


async def _project_chunk(db: Database, events: list[DecodedEvent]) -> None:
    """Project a chunk in one transaction, its writes grouped per statement shape as in a consumed
    batch. Retried whole on a transient error: two workers' chunks can deadlock on one institution's
    row, and every projection write is idempotent (stats.projections), so applying again is safe."""
    for attempt in range(_PROJECTION_ATTEMPTS):
        try:
            async with db.transaction() as session:
                scope = BatchScope()
                session.info[SCOPE_KEY] = scope
                for event in events:
                    await project(session, event)
                await scope.run()
            return
        except Exception as exc:
            if attempt == _PROJECTION_ATTEMPTS - 1 or not is_transient(exc):
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


_PROJECTION_ATTEMPTS = 5


async def rebuild(
    db: Database, settings: ReportingSettings, *, batch: int = 500, within: float = 60.0, workers: int = 1
) -> RebuildResult:
    """Replay every topic into ``db`` (a migrated, empty reporting database); ``workers`` > 1:
    the projections in that many processes over the domain partitions, the ledger in this one."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and not await _is_empty(db):
        raise RebuildRefused(
            "the partition-parallel rebuild runs only into an empty, migrated database; "
            "after a failed run drop the database, create and migrate it again, then rerun"
        )
    kafka, namespace = settings.kafka_access(), settings.kafka_namespace
    shared_fields = load_grants(settings.grants_file).common()
    leaf_format = settings.leaf_format()
    outbox = Outbox(source=settings.source, namespace=namespace)
    domain_topics = [qualified(namespace, t) for t in DOMAIN_TOPICS]
    ledger = _Reader(kafka, [qualified(namespace, LEDGER_CHANGES)], within=within)
    domain = _Reader(kafka, domain_topics, within=within)
    # Domain records read but not appended yet, by event key: (topic rank, partition, offset, event).
    ahead: dict[Key, tuple[int, int, int, DecodedEvent]] = {}
    # The chunk being gathered: (event, announce it, the leaf hash the ledger topic recorded for it).
    # An entry is rebuilt in the leaf version that gives the recorded hash (entries keep the version
    # they were appended with); an event the ledger topic does not mention gets this deployment's.
    plan: list[tuple[DecodedEvent, bool, bytes | None]] = []
    counts = {"appended": 0, "recorded": 0, "missing": 0, "duplicate": 0}
    next_index = 0  # the ledger index the next new ledger-topic record names
    project_here = workers == 1
    # With projection workers the head is written once, last, after every worker succeeded: until
    # then the ledger reads as empty (see the module docstring, "If a run fails").
    head: list[Any] = []

    async def flush() -> None:
        if not plan:
            return
        async with db.transaction() as session:
            fresh = await _claim_inbox(session, [event.envelope for event, _, _ in plan])
            if project_here:
                size, peaks_blob = await repository.lock_head(session)
                peaks = service.split_peaks(peaks_blob)
            else:
                size, peaks = head or (0, [])
            made, announced, chosen = [], [], []
            for event, announce, recorded_hash in plan:
                key = (event.envelope.source, event.envelope.id)
                if key not in fresh:
                    continue  # in the inbox already: appended and projected before
                fresh.discard(key)
                chosen.append(event)
                made.append((event.envelope, *leaf_format.leaf_for(event.envelope, recorded_hash)))
                announced.append(announce)
            # The same computation as the live append (service.compute_appends), stored with COPY.
            appends = service.compute_appends(size, peaks, made, recorded_at=datetime.now(UTC))
            await repository.copy_appends(session, appends.entries, appends.nodes)
            # Recorded events precede the unmentioned tail in the plan, so the announced entries
            # are the last ones, in index order, as the live path announces them.
            await service.announce(
                session,
                outbox,
                [(e, a.envelope) for e, a, flag in zip(appends.entries, chosen, announced, strict=True) if flag],
                shared_fields,
            )
            if project_here:
                await repository.set_head(session, appends.size, appends.peaks_blob)
                # The statistics projections, as the live consumer applies them, in this transaction.
                scope = BatchScope()
                session.info[SCOPE_KEY] = scope
                for event in chosen:
                    await project(session, event)
                await scope.run()
            counts["appended"] += len(appends.entries)
        if not project_here:
            head[:] = [appends.size, appends.peaks]
        plan.clear()

    async def read_ahead() -> bool:
        records = await domain.next_batch()
        if records is None:
            return False
        for r in records:
            event = _domain_event(r, namespace)
            if event is not None:
                key = (event.envelope.source, event.envelope.id)
                ahead.setdefault(key, (domain_topics.index(r.topic), r.partition, r.offset, event))
        return True

    async def write_ledger() -> None:
        nonlocal next_index
        await ledger.start()
        await domain.start()
        try:
            domain_left = True
            while (records := await ledger.next_batch()) is not None:
                for record in records:
                    try:
                        decoded = decode(record.value)
                    except PoisonEvent:
                        continue
                    if not isinstance(decoded.data, LedgerEntrySharedV2) or decoded.envelope.source != settings.source:
                        continue
                    if decoded.data.index < next_index:
                        # A re-send of a record already read (the relay sends at least once); the topic
                        # is one partition in index order, so an index below the next is a duplicate.
                        counts["duplicate"] += 1
                        continue
                    next_index = decoded.data.index + 1
                    key = (decoded.data.event_source, decoded.data.event_id)
                    while key not in ahead and domain_left:
                        domain_left = await read_ahead()
                    found = ahead.pop(key, None)
                    if found is None:
                        counts["missing"] += 1  # the domain topics no longer hold it (retention)
                        continue
                    counts["recorded"] += 1
                    plan.append((found[3], False, base64.b64decode(decoded.data.leaf_hash)))
                    if len(plan) >= batch:
                        await flush()
            await flush()
            while domain_left:
                domain_left = await read_ahead()
            # The tail no ledger record mentions, in topic/partition/offset order; appended and announced.
            for _, _, _, event in sorted(ahead.values(), key=lambda t: t[:3]):
                plan.append((event, True, None))
                if len(plan) >= batch:
                    await flush()
            await flush()
        finally:
            await ledger.stop()
            await domain.stop()

    if project_here:
        await write_ledger()
    else:
        await _with_projection_workers(db, settings, workers, batch=batch, within=within, ledger=write_ledger())
        if head:
            async with db.transaction() as session:
                await repository.set_head(session, head[0], b"".join(head[1]))
    if counts["missing"]:
        log.warning("ledger topic names events the domain topics no longer hold", extra={"missing": counts["missing"]})
    async with db.transaction() as session:
        size = await service.tree_size(session)
    return RebuildResult(appended=counts["appended"], in_recorded_order=counts["recorded"], tree_size=size)


async def _with_projection_workers(
    db: Database,
    settings: ReportingSettings,
    workers: int,
    *,
    batch: int,
    within: float,
    ledger: Coroutine[Any, Any, None],
) -> None:
    """Run ``ledger`` (the single writer, in recorded order) here while ``workers`` processes
    project their shares of the domain partitions; return when all succeeded. The first failure
    (the writer's exception, a worker's non-zero exit) stops the others and is raised."""
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop or pool
    processes = [
        context.Process(
            target=_projection_worker,
            args=(url, settings, (share, workers), batch, within),
            name=f"reporting-rebuild-projections-{share}",
        )
        for share in range(workers)
    ]
    for process in processes:
        process.start()

    async def watch() -> None:
        while True:
            failed = [p for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise ProjectionWorkerFailed(", ".join(f"{p.name} exited with {p.exitcode}" for p in failed))
            if all(p.exitcode == 0 for p in processes):
                return
            await asyncio.sleep(0.1)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(ledger)
            group.create_task(watch())
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from failures
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _projection_worker(
    url: str, settings: ReportingSettings, share: tuple[int, int], batch: int, within: float
) -> None:
    """A projection worker process: its own event loop, database pool and Kafka consumer."""
    asyncio.run(_project_share(url, settings, share, batch=batch, within=within))


async def _project_share(
    url: str, settings: ReportingSettings, share: tuple[int, int], *, batch: int, within: float
) -> None:
    """Project every event of this share of the domain partitions, one transaction per chunk. No
    inbox rows: the ledger writer claims every event (the inbox is one per consumer, and the live
    consumer applies ledger and projections together)."""
    namespace = settings.kafka_namespace
    db = Database(url, pool_size=1)
    reader = _Reader(
        settings.kafka_access(), [qualified(namespace, t) for t in DOMAIN_TOPICS], within=within, share=share
    )
    await reader.start()
    try:
        events: list[DecodedEvent] = []
        while (records := await reader.next_batch()) is not None:
            events += [e for r in records if (e := _domain_event(r, namespace)) is not None]
            if len(events) >= batch:
                await _project_chunk(db, events)
                events = []
        if events:
            await _project_chunk(db, events)
    finally:
        await reader.stop()
        await db.dispose()


async def _main(workers: int) -> None:
    settings = ReportingSettings()
    if not settings.database_url:
        raise SystemExit(f"set {settings.setting_name('database_url')}: the new database, as the runtime role")
    db = Database(settings.database_url)
    try:
        result = await rebuild(db, settings, workers=workers)
        log.warning("rebuild finished", extra={"appended": result.appended, "tree_size": result.tree_size})
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rebuild the reporting database from the topics.")
    parser.add_argument(
        "--workers", type=int, default=1, help="projection processes (> 1: only into an empty database)"
    )
    asyncio.run(_main(parser.parse_args().workers))
