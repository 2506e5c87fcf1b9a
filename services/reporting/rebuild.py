"""Rebuild the ledger and the statistics projections into an empty reporting database by
replaying the topics.

The ledger's order is the order the live consumer happened to read three multi-partition topics
in, which a replay cannot reproduce by itself. That order is on record, though: the single-partition
ledger topic holds one ``entry_appended`` record per entry, in index order, naming the source event.
So the rebuild reads the ledger topic for the order and the domain topics for the events, and
appends them in that order: the same leaves in the same order give the same root at every size.
Events on the domain topics that the ledger topic does not mention yet (appended after the last
record was published, or never) follow in topic/partition/offset order, and are announced then.
Each event is projected into the statistics tables in the same transaction as its append; the
projections do not depend on the order (see ``stats.projections``), so they equal the live ones.

``python -m services.reporting.rebuild`` runs it against the configured database (REPORTING_*).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting import service
from services.reporting.consumers import CONSUMER
from services.reporting.grants import load_grants
from services.reporting.settings import ReportingSettings
from services.reporting.stats.projections import project
from shared.consumer import claim_inbox_many
from shared.db import Database
from shared.events import DecodedEvent, PoisonEvent, decode
from shared.events.reporting import LedgerEntrySharedV1
from shared.outbox import Outbox
from shared.topics import DOMAIN_TOPICS, LEDGER_CHANGES, qualified

log = logging.getLogger(__name__)


async def read_topic(bootstrap: str, topic: str, *, within: float = 60.0) -> list[bytes]:
    """Every record value in ``topic`` up to its end as of now, partition by partition in offset order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        values: list[bytes] = []
        for partition in sorted(partitions):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            deadline = asyncio.get_running_loop().time() + within
            while await consumer.position(tp) < end:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"could not read {topic}[{partition}] to its end")
                batch = await consumer.getmany(tp, timeout_ms=500)
                values += [r.value for r in batch.get(tp, []) if r.offset < end and r.value is not None]
        return values
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class RebuildResult:
    appended: int
    in_recorded_order: int
    tree_size: int


async def rebuild(db: Database, settings: ReportingSettings, *, batch: int = 500) -> RebuildResult:
    """Replay every topic into ``db`` (a migrated, empty reporting database)."""
    bootstrap, namespace = settings.kafka_bootstrap_servers, settings.kafka_namespace
    order: list[tuple[str, str]] = []
    for value in await read_topic(bootstrap, qualified(namespace, LEDGER_CHANGES)):
        try:
            decoded = decode(value)
        except PoisonEvent:
            continue
        if isinstance(decoded.data, LedgerEntrySharedV1):
            order.append((decoded.data.source_event_source, decoded.data.source_event_id))
    events: dict[tuple[str, str], DecodedEvent] = {}
    arrival: list[tuple[str, str]] = []
    for topic in DOMAIN_TOPICS:
        for value in await read_topic(bootstrap, qualified(namespace, topic)):
            try:
                decoded = decode(value)
            except PoisonEvent:
                continue  # the live consumer dead-letters these; they never entered the ledger
            key = (decoded.envelope.source, decoded.envelope.id)
            if key not in events:
                events[key] = decoded
                arrival.append(key)
    recorded = [key for key in order if key in events]
    missing = len(order) - len(recorded)
    if missing:
        log.warning("ledger topic names events the domain topics no longer hold", extra={"missing": missing})
    recorded_set = set(recorded)
    later = [key for key in arrival if key not in recorded_set]
    shared_fields = load_grants(settings.ledger_grants_file).common()
    outbox = Outbox(source=settings.source, namespace=namespace)
    appended = 0
    plan = [(key, False) for key in recorded] + [(key, True) for key in later]
    for start in range(0, len(plan), batch):
        chunk = plan[start : start + batch]
        async with db.transaction() as session:
            fresh = await claim_inbox_many(session, CONSUMER, [events[key].envelope for key, _ in chunk])
            # The plan lists the recorded events first: within a chunk every silent append precedes
            # every announced one, so two calls keep the plan's order.
            for announce in (False, True):
                envelopes = [events[key].envelope for key, a in chunk if a is announce and key in fresh]
                if envelopes:
                    indexes = await service.append_events(
                        session, outbox if announce else None, envelopes, shared_fields=shared_fields
                    )
                    appended += sum(index is not None for index in indexes)
            for key, _ in chunk:
                if key in fresh:
                    await project(session, events[key])  # the statistics projections, as the live consumer does
    async with db.transaction() as session:
        size = await service.tree_size(session)
    return RebuildResult(appended=appended, in_recorded_order=len(recorded), tree_size=size)


async def _main() -> None:
    from devstack.postgres import resolve_database_url

    settings = ReportingSettings()
    db = Database(settings.database_url or resolve_database_url(settings))
    try:
        result = await rebuild(db, settings)
        log.warning("rebuild finished", extra={"appended": result.appended, "tree_size": result.tree_size})
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
