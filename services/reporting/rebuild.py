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

``workers`` (default 1). With 1, this process reads the domain topics too, and each chunk's events
are projected into the statistics tables in the chunk's transaction, as the live consumer does;
this also works on a non-empty database (a restored dump: docs/reliability.md). With ``workers`` > 1
that many spawned processes, each with its own event loop, database pool and Kafka consumer, read
disjoint shares of the domain-topic partitions (every ``workers``-th partition by rank); per chunk a
worker computes the events' leaves in the deployment's version (the costly part: ~40 salted field
digests per version-2 leaf) and hands events and leaves to this process through a bounded queue,
then projects the chunk in one transaction (the projections do not depend on the order:
``stats.projections``). This process stays the single writer, of the ledger (the only thing whose
order matters: it checks each leaf against the recorded hash and appends in the recorded order) and
of the inbox for every event.

If a run fails. With 1 worker every chunk commits its entries, inbox rows and projections together,
so a failed run leaves a consistent prefix and running again continues after it. With projection
workers the ledger and the projections commit separately, so: the parallel rebuild refuses a
database that is not empty (``RebuildRefused``); the first failure (the writer's exception or a
worker's non-zero exit) terminates the other processes and is raised; and ``ledger_head`` is
written once, last, after every worker succeeded, so until the run succeeds the ledger reads as
empty (``/v1/ledger`` shows tree size 0, ``verify`` reports the entries beyond the head) and any
rebuild on it, with any number of workers, is refused (entries beyond the head). A failure before
the first ledger chunk committed leaves projection rows only: a parallel rerun refuses them, a
one-worker rerun (which must accept a restored dump) applies over them, which gives the same
projections because their writes are idempotent. The operator's
step after a failure: drop that database, create and migrate it again, rerun. Start the service
on the rebuilt database only after the rebuild returned.

``python -m services.reporting.rebuild [--workers N]`` runs it against the configured database
(REPORTING_*).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import multiprocessing
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.consumers import CONSUMER
from services.reporting.ledger import merkle, repository, service
from services.reporting.ledger.leaves import Leaf
from services.reporting.models import Base
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
    """No ledger entry, inbox row or projection row, and the head at 0 (what a failed parallel run
    leaves is never empty once it wrote anything: see the module docstring)."""
    tables = ["ledger_entry", "inbox", *(t.name for t in Base.metadata.sorted_tables if t.name.startswith("proj_"))]
    async with db.transaction() as session:
        row = await session.execute(
            text(
                "SELECT (SELECT size FROM ledger_head WHERE id = 1) = 0"
                + "".join(f" AND NOT EXISTS (SELECT 1 FROM {table})" for table in tables)
            )
        )
        return bool(row.scalar_one())


async def _entries_beyond_head(db: Database) -> bool:
    """What a failed parallel run leaves (its head is written last); the live append never does."""
    async with db.transaction() as session:
        row = await session.execute(
            text("SELECT coalesce(max(index) + 1, 0) > (SELECT size FROM ledger_head WHERE id = 1) FROM ledger_entry")
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


@dataclass(frozen=True)
class _Arrival:
    """A domain event read for the ledger: where it stands on the topics (the order of the tail the
    ledger topic does not mention), and, from a projection worker, its leaf in this deployment's
    version with the leaf's hash (the writer then only checks it against the recorded hash)."""

    rank: int  # of the topic in DOMAIN_TOPICS
    partition: int
    offset: int
    envelope: CloudEvent
    event: DecodedEvent | None = None  # to project in this process (workers == 1)
    leaf: tuple[Leaf, bytes] | None = None

    @property
    def key(self) -> Key:
        return (self.envelope.source, self.envelope.id)


async def rebuild(
    db: Database, settings: ReportingSettings, *, batch: int = 500, within: float = 60.0, workers: int = 1
) -> RebuildResult:
    """Replay every topic into ``db`` (a migrated, empty reporting database); ``workers`` > 1:
    that many processes read the domain partitions, compute the leaves and project, and this one
    appends the ledger in the recorded order."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and not await _is_empty(db):
        raise RebuildRefused(
            "the partition-parallel rebuild runs only into an empty, migrated database; "
            "after a failed run drop the database, create and migrate it again, then rerun"
        )
    if await _entries_beyond_head(db):
        raise RebuildRefused(
            "ledger entries beyond the head: a failed partition-parallel rebuild left this database; "
            "drop it, create and migrate it again, then rerun"
        )
    kafka, namespace = settings.kafka_access(), settings.kafka_namespace
    shared_fields = load_grants(settings.grants_file).common()
    leaf_format = settings.leaf_format()
    outbox = Outbox(source=settings.source, namespace=namespace)
    domain_topics = [qualified(namespace, t) for t in DOMAIN_TOPICS]
    ledger = _Reader(kafka, [qualified(namespace, LEDGER_CHANGES)], within=within)
    # Domain events read but not appended yet, by event key.
    ahead: dict[Key, _Arrival] = {}
    # The chunk being gathered: (event, announce it, the leaf hash the ledger topic recorded for it).
    # An entry is rebuilt in the leaf version that gives the recorded hash (entries keep the version
    # they were appended with); an event the ledger topic does not mention gets this deployment's.
    plan: list[tuple[_Arrival, bool, bytes | None]] = []
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
            # The announcements and the projections group their writes per statement shape, as in
            # a consumed batch.
            scope = BatchScope()
            session.info[SCOPE_KEY] = scope
            fresh = await _claim_inbox(session, [arrival.envelope for arrival, _, _ in plan])
            if project_here:
                size, peaks_blob = await repository.lock_head(session)
                peaks = service.split_peaks(peaks_blob)
            else:
                size, peaks = head or (0, [])
            made, announced, chosen = [], [], []
            for arrival, announce, recorded_hash in plan:
                if arrival.key not in fresh:
                    continue  # in the inbox already: appended and projected before
                fresh.discard(arrival.key)
                chosen.append(arrival)
                envelope = arrival.envelope
                made.append((envelope, *leaf_format.leaf_for(envelope, recorded_hash, arrival.leaf)))
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
                for arrival in chosen:
                    assert arrival.event is not None
                    await project(session, arrival.event)
            await scope.run()
            counts["appended"] += len(appends.entries)
        if not project_here:
            head[:] = [appends.size, appends.peaks]
        plan.clear()

    async def write_ledger(arrivals: Callable[[], Awaitable[list[_Arrival] | None]]) -> None:
        nonlocal next_index
        await ledger.start()
        try:
            domain_left = True

            async def read_ahead() -> bool:
                more = await arrivals()
                if more is None:
                    return False
                for arrival in more:
                    ahead.setdefault(arrival.key, arrival)
                return True

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
                    plan.append((found, False, base64.b64decode(decoded.data.leaf_hash)))
                    if len(plan) >= batch:
                        await flush()
            await flush()
            while domain_left:
                domain_left = await read_ahead()
            # The tail no ledger record mentions, in topic/partition/offset order; appended and announced.
            for arrival in sorted(ahead.values(), key=lambda a: (a.rank, a.partition, a.offset)):
                plan.append((arrival, True, None))
                if len(plan) >= batch:
                    await flush()
            await flush()
        finally:
            await ledger.stop()

    if project_here:
        domain = _Reader(kafka, domain_topics, within=within)

        async def read_domain() -> list[_Arrival] | None:
            records = await domain.next_batch()
            if records is None:
                return None
            return [
                _Arrival(domain_topics.index(r.topic), r.partition, r.offset, event.envelope, event=event)
                for r in records
                if (event := _domain_event(r, namespace)) is not None
            ]

        await domain.start()
        try:
            await write_ledger(read_domain)
        finally:
            await domain.stop()
    else:
        await _with_workers(db, settings, workers, batch=batch, within=within, write_ledger=write_ledger)
        if head:
            async with db.transaction() as session:
                await repository.set_head(session, head[0], b"".join(head[1]))
    if counts["missing"]:
        log.warning("ledger topic names events the domain topics no longer hold", extra={"missing": counts["missing"]})
    async with db.transaction() as session:
        size = await service.tree_size(session)
    return RebuildResult(appended=counts["appended"], in_recorded_order=counts["recorded"], tree_size=size)


_QUEUE_POLL_SECONDS = 0.5


async def _with_workers(
    db: Database,
    settings: ReportingSettings,
    workers: int,
    *,
    batch: int,
    within: float,
    write_ledger: Callable[[Callable[[], Awaitable[list[_Arrival] | None]]], Coroutine[Any, Any, None]],
) -> None:
    """Run ``write_ledger`` (the single writer, in recorded order) here, fed with the events and
    leaves ``workers`` processes send while they project their shares of the domain partitions;
    return when all succeeded. The first failure (the writer's exception, a worker's non-zero exit)
    stops the others and is raised."""
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop or pool
    # Bounded: a worker ahead of the writer waits, so what is held stays a window, not the log.
    arrivals: Any = context.Queue(maxsize=2 * workers)
    processes = [
        context.Process(
            target=_worker,
            args=(url, settings, (share, workers), batch, within, arrivals),
            name=f"reporting-rebuild-worker-{share}",
        )
        for share in range(workers)
    ]
    for process in processes:
        process.start()
    finished = 0

    def failures() -> list[str]:
        return [f"{p.name} exited with {p.exitcode}" for p in processes if p.exitcode not in (None, 0)]

    async def from_workers() -> list[_Arrival] | None:
        nonlocal finished
        loop = asyncio.get_running_loop()
        while finished < workers:
            try:
                # a timeout, so the thread returns (and a dead worker is noticed) while none sends
                message = await _get_in_daemon_thread(loop, arrivals, _QUEUE_POLL_SECONDS)
            except queue.Empty:
                if failed := failures():
                    raise ProjectionWorkerFailed(", ".join(failed)) from None
                continue
            if message is None:
                finished += 1  # that worker has sent everything
                continue
            return cast(list[_Arrival], message)
        return None

    async def watch() -> None:
        while True:
            if failed := failures():
                raise ProjectionWorkerFailed(", ".join(failed))
            if all(p.exitcode == 0 for p in processes):
                return
            await asyncio.sleep(0.1)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(write_ledger(from_workers))
            group.create_task(watch())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from failed
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        arrivals.close()


def _get_in_daemon_thread(loop: asyncio.AbstractEventLoop, source: Any, timeout: float) -> asyncio.Future[Any]:
    """``source.get(True, timeout)`` in a daemon thread of its own. A worker killed while it wrote
    a message leaves the reading thread blocked on the rest of it for good (the pipe's other
    writers keep it open): in the default executor that thread would keep the interpreter from
    exiting after the failure was raised; a daemon thread does not."""
    answer: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)

    def read() -> None:
        try:
            result = source.get(True, timeout)
        except BaseException as error:  # handed to the waiting coroutine as it is
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=read, name="reporting-rebuild-arrivals", daemon=True).start()
    return answer


def _worker(
    url: str, settings: ReportingSettings, share: tuple[int, int], batch: int, within: float, arrivals: Any
) -> None:
    """A worker process: its own event loop, database pool and Kafka consumer."""
    asyncio.run(_work_share(url, settings, share, batch=batch, within=within, arrivals=arrivals))


async def _work_share(
    url: str, settings: ReportingSettings, share: tuple[int, int], *, batch: int, within: float, arrivals: Any
) -> None:
    """For every event of this share of the domain partitions, in chunks: compute its leaf in the
    deployment's version and send it to the writer, then project the chunk in one transaction. No
    inbox rows: the writer claims every event (the inbox is one per consumer, and the live consumer
    applies ledger and projections together)."""
    namespace = settings.kafka_namespace
    leaf_format = settings.leaf_format()
    domain_topics = [qualified(namespace, t) for t in DOMAIN_TOPICS]
    db = Database(url, pool_size=1)
    reader = _Reader(settings.kafka_access(), domain_topics, within=within, share=share)
    loop = asyncio.get_running_loop()

    async def hand_over(chunk: list[tuple[Any, DecodedEvent]]) -> None:
        sent = []
        for record, event in chunk:
            made = leaf_format.leaf(event.envelope)
            leaf = (made, merkle.leaf_hash(made.leaf))
            rank = domain_topics.index(record.topic)
            sent.append(_Arrival(rank, record.partition, record.offset, event.envelope, leaf=leaf))
        await loop.run_in_executor(None, arrivals.put, sent)  # waits while the writer is behind
        await _project_chunk(db, [event for _, event in chunk])

    await reader.start()
    try:
        chunk: list[tuple[Any, DecodedEvent]] = []
        while (records := await reader.next_batch()) is not None:
            chunk += [(r, e) for r in records if (e := _domain_event(r, namespace)) is not None]
            if len(chunk) >= batch:
                await hand_over(chunk)
                chunk = []
        if chunk:
            await hand_over(chunk)
        await loop.run_in_executor(None, arrivals.put, None)
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
