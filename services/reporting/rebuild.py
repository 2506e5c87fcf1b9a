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
Each event is projected into the statistics tables in the same transaction as its append; the
projections do not depend on the order (see ``stats.projections``), so they equal the live ones.

Memory stays flat in the size of the log: the ledger topic and the domain topics are read side by
side, and only the domain records read ahead of their turn are held (the live consumer read the
partitions side by side too, so that is a window, not the log); then the unmentioned tail.

``python -m services.reporting.rebuild`` runs it against the configured database (REPORTING_*).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting.consumers import CONSUMER
from services.reporting.ledger import service
from services.reporting.settings import ReportingSettings
from services.reporting.stats.projections import project
from shared.batch import SCOPE_KEY, BatchScope
from shared.consumer import claim_inbox_many
from shared.db import Database
from shared.events import DecodedEvent, PoisonEvent, decode
from shared.events.reporting import LedgerEntrySharedV2
from shared.grants import load_grants
from shared.kafka import KafkaAccess
from shared.kafka_access import source_allowed
from shared.outbox import Outbox
from shared.topics import DOMAIN_TOPICS, LEDGER_CHANGES, qualified

log = logging.getLogger(__name__)


class _Reader:
    """The records of some topics from their beginning to their end offsets as of ``start()``."""

    def __init__(self, kafka: KafkaAccess, topics: list[str], *, within: float) -> None:
        self.kafka = kafka
        self.topics = topics
        self.within = within
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


async def rebuild(
    db: Database, settings: ReportingSettings, *, batch: int = 500, within: float = 60.0
) -> RebuildResult:
    """Replay every topic into ``db`` (a migrated, empty reporting database)."""
    kafka, namespace = settings.kafka_access(), settings.kafka_namespace
    shared_fields = load_grants(settings.grants_file).common()
    leaf_format = settings.leaf_format()
    # The leaf hash the ledger topic recorded for an event: its entry is rebuilt in the leaf version
    # that gives that hash (entries keep the version they were appended with).
    recorded_hashes: dict[Key, bytes] = {}
    outbox = Outbox(source=settings.source, namespace=namespace)
    domain_topics = [qualified(namespace, t) for t in DOMAIN_TOPICS]
    ledger = _Reader(kafka, [qualified(namespace, LEDGER_CHANGES)], within=within)
    domain = _Reader(kafka, domain_topics, within=within)
    # Domain records read but not appended yet, by event key: (topic rank, partition, offset, event).
    ahead: dict[Key, tuple[int, int, int, DecodedEvent]] = {}
    plan: list[tuple[DecodedEvent, bool]] = []
    counts = {"appended": 0, "recorded": 0, "missing": 0, "duplicate": 0}
    next_index = 0  # the ledger index the next new ledger-topic record names

    async def flush() -> None:
        if not plan:
            return
        async with db.transaction() as session:
            # The projections group their writes per statement shape, as in a consumed batch.
            scope = BatchScope()
            session.info[SCOPE_KEY] = scope
            fresh = await claim_inbox_many(session, CONSUMER, [event.envelope for event, _ in plan])
            # Recorded events precede the unmentioned tail in the plan, and a flush never holds an
            # announced event before a silent one, so two calls keep the plan's order.
            for announce in (False, True):
                envelopes = [
                    e.envelope for e, a in plan if a is announce and (e.envelope.source, e.envelope.id) in fresh
                ]
                if envelopes:
                    versions = [
                        leaf_format.version_matching(e, recorded_hashes.get((e.source, e.id))) for e in envelopes
                    ]
                    indexes = await service.append_events(
                        session,
                        outbox if announce else None,
                        envelopes,
                        shared_fields=shared_fields,
                        leaf_format=leaf_format,
                        versions=versions,
                    )
                    counts["appended"] += sum(index is not None for index in indexes)
            for event, _ in plan:
                if (event.envelope.source, event.envelope.id) in fresh:
                    await project(session, event)  # the statistics projections, as the live consumer does
            await scope.run()
        plan.clear()

    async def read_ahead() -> bool:
        records = await domain.next_batch()
        if records is None:
            return False
        for r in records:
            try:
                event = decode(r.value)
            except PoisonEvent:
                continue  # the live consumer dead-letters these; they never entered the ledger
            if not source_allowed(namespace, r.topic, event.envelope.source):
                continue  # likewise (source_mismatch)
            key = (event.envelope.source, event.envelope.id)
            ahead.setdefault(key, (domain_topics.index(r.topic), r.partition, r.offset, event))
        return True

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
                recorded_hashes[key] = base64.b64decode(decoded.data.leaf_hash)
                plan.append((found[3], False))
                if len(plan) >= batch:
                    await flush()
        await flush()
        while domain_left:
            domain_left = await read_ahead()
        # The tail no ledger record mentions, in topic/partition/offset order; appended and announced.
        for _, _, _, event in sorted(ahead.values(), key=lambda t: t[:3]):
            plan.append((event, True))
            if len(plan) >= batch:
                await flush()
        await flush()
    finally:
        await ledger.stop()
        await domain.stop()
    if counts["missing"]:
        log.warning("ledger topic names events the domain topics no longer hold", extra={"missing": counts["missing"]})
    async with db.transaction() as session:
        size = await service.tree_size(session)
    return RebuildResult(appended=counts["appended"], in_recorded_order=counts["recorded"], tree_size=size)


async def _main() -> None:
    settings = ReportingSettings()
    if not settings.database_url:
        raise SystemExit(f"set {settings.setting_name('database_url')}: the new database, as the runtime role")
    db = Database(settings.database_url)
    try:
        result = await rebuild(db, settings)
        log.warning("rebuild finished", extra={"appended": result.appended, "tree_size": result.tree_size})
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
