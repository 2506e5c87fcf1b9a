"""Transactional outbox and inbox.

Producer side: ``Outbox.add`` writes the CloudEvent into the ``outbox`` table in the caller's
transaction, so the state change and the event commit or roll back together. ``OutboxRelay`` (a task
inside each service) publishes unpublished rows in id order with an idempotent producer and marks
them published only after Kafka acknowledged them. A crash in between re-publishes; consumers dedupe.

Consumer side: ``inbox_table`` holds the ids of the events a consumer has applied, recorded in the
transaction that applied them (``shared.consumer.claim_inbox_many``); a redelivered event finds its
id there and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaTimeoutError
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.batch import BatchCollector
from shared.db import NAMING_CONVENTION, OUTBOX_WRITTEN, Database, driver_connection
from shared.events import CONTENT_TYPE, CloudEvent, EventData
from shared.ids import uuid7
from shared.metrics import Metrics
from shared.topics import qualified

log = logging.getLogger(__name__)

messaging_metadata = MetaData(naming_convention=NAMING_CONVENTION)

outbox_table = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    # The exact bytes to publish (as text): a re-publish after a crash is byte-identical.
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

inbox_table = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", Text, nullable=False),
    Column("event_source", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # CloudEvents: source + id identify an event; a duplicate has the same pair.
    PrimaryKeyConstraint("consumer", "event_source", "event_id", name="pk_inbox"),
)


# Written through the session's own asyncpg connection (``driver_connection``): a prepared statement
# that asyncpg caches, rows as tuples, no per-row parameter processing by SQLAlchemy.
# A derived event's id already present is the same announcement made again: nothing to add.
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (event_id) DO NOTHING"
)

# --- derived events -------------------------------------------------------------------------------
# An event a service derives from another event (a consequence, not a decision of its own) gets an
# id derived from what it announces, so that a replay (a restore catching up from the topics, a
# consumer group reset) announces it again under the *same* id and every consumer's inbox drops it.
# Two ways to say what it announces: the consumer runner names the event being handled (``caused_by``)
# and the id comes from the cause's id, the kind of consequence (type), the subject and an ordinal;
# or the caller names it (``derived_from``): for work deferred to a batch's end, which has no single
# cause, and for announcements of a state that any of several events may reach (credit's grades).
_DERIVED_IDS = uuid.UUID("5d6c3a52-4c1e-4c55-9b7a-1f3e8a2d9c40")
_CAUSE = "outbox.cause"
_ORDINALS = "outbox.ordinals"


def derived_event_id(source: str, event_type: str, subject: str, key: str) -> str:
    """The id of the event ``source`` derives, of this type about this subject, from ``key``."""
    return str(uuid.uuid5(_DERIVED_IDS, "\x1f".join((source, event_type, subject, key))))


@contextlib.contextmanager
def caused_by(session: AsyncSession, cause: CloudEvent) -> Iterator[None]:
    """Events added in this block without ``derived_from`` are consequences of ``cause``."""
    session.info[_CAUSE] = f"{cause.source}\x1f{cause.id}"
    session.info[_ORDINALS] = {}
    try:
        yield
    finally:
        session.info.pop(_CAUSE, None)
        session.info.pop(_ORDINALS, None)


class Outbox:
    """Writes events for one service. ``source`` and ``namespace`` come from its settings."""

    def __init__(self, *, source: str, namespace: str = "") -> None:
        self.source = source
        self.namespace = namespace

    def envelope(
        self, data: EventData, *, subject: str, at: datetime | None = None, event_id: str | None = None
    ) -> CloudEvent:
        return CloudEvent(
            # time-ordered unless derived: inserts into the indexes keyed by it stay local (shared.ids)
            id=event_id or str(uuid7()),
            source=self.source,
            type=data.event_type,
            time=at or datetime.now(UTC),
            subject=subject,
            data=data.model_dump(mode="json"),
        )

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        subject: str,
        at: datetime | None = None,
        derived_from: str | None = None,
    ) -> CloudEvent:
        """``derived_from``: what this event announces, when it is a consequence (see derived_event_id)."""
        envelope, row = self._row(session, data, subject=subject, at=at, derived_from=derived_from)
        session.info[OUTBOX_WRITTEN] = True
        # Inside a consumer's batch the rows are written together (one executemany) before it
        # commits, in the order they were added, so their ids keep every subject's order.
        await _OUTBOX_ROWS.add(session, row)
        return envelope

    async def add_all(
        self, session: AsyncSession, events: Sequence[EventData], *, subject: str, at: datetime | None = None
    ) -> list[CloudEvent]:
        """``add`` of each event in turn (same ids, same order), written with one statement: several
        events a request decides at once (a roster's hires) cost one round trip, not one each."""
        made = [self._row(session, data, subject=subject, at=at) for data in events]
        if made:
            session.info[OUTBOX_WRITTEN] = True
            await _OUTBOX_ROWS.add_all(session, [row for _, row in made])
        return [envelope for envelope, _ in made]

    def _row(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        subject: str,
        at: datetime | None,
        derived_from: str | None = None,
    ) -> tuple[CloudEvent, tuple[str, str, str, str, str]]:
        """The event's envelope and its outbox row (id, topic, subject, type, JSON): one event of
        ``add`` or ``add_all``."""
        envelope = self.envelope(
            data, subject=subject, at=at, event_id=self._derived_id(session, data, subject, derived_from)
        )
        row = (envelope.id, qualified(self.namespace, data.topic), subject, envelope.type, envelope.to_json())
        return envelope, row

    def _derived_id(self, session: AsyncSession, data: EventData, subject: str, derived_from: str | None) -> str | None:
        if derived_from is None:
            cause = session.info.get(_CAUSE)
            if cause is None:
                return None  # a decision of this service's own (a request): a new id
            ordinals: dict[tuple[str, str], int] = session.info[_ORDINALS]
            ordinal = ordinals[(data.event_type, subject)] = ordinals.get((data.event_type, subject), -1) + 1
            derived_from = f"{cause}\x1f{ordinal}"
        return derived_event_id(self.source, data.event_type, subject, derived_from)


async def _write_outbox_rows(session: AsyncSession, rows: list[tuple[str, ...]]) -> None:
    connection = await driver_connection(session)
    if len(rows) == 1:
        await connection.execute(_INSERT_OUTBOX, *rows[0])
    else:
        await connection.executemany(_INSERT_OUTBOX, rows)


_OUTBOX_ROWS: BatchCollector[tuple[str, ...]] = BatchCollector("outbox.rows", _write_outbox_rows)

# The relay's statements, on the asyncpg connection of its transaction (prepared once per
# connection, rows as tuples): a relay round runs them for every few requests under load.
_TRY_RELAY_LOCK = "SELECT pg_try_advisory_xact_lock($1::bigint)"
_UNPUBLISHED = (
    "SELECT id, topic, message_key, event_type, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1"
)
_MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"


ProducerFactory = Callable[[], Any]


class RelayCrashed(Exception):
    """Raised by test hooks to simulate the relay process dying at a chosen point."""


class OutboxRelay:
    """Publishes the outbox in id order. One relay publishes at a time per database (advisory lock),
    so several replicas of a service never reorder one institution's events."""

    def __init__(
        self,
        db: Database,
        producer_factory: ProducerFactory,
        metrics: Metrics,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        send_timeout: float = 30.0,
    ) -> None:
        self.db = db
        self.producer_factory = producer_factory
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.send_timeout = send_timeout
        self.lock_key = zlib.crc32(f"outbox-relay:{service}".encode())
        self._wake = asyncio.Event()
        self._producer: Any = None
        self._stopping = False
        self.last_error: str | None = None
        self._published_children: dict[str, Any] = {}

    def wake(self) -> None:
        self._wake.set()

    async def _ensure_producer(self) -> Any:
        if self._producer is None:
            producer = self.producer_factory()
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self, *, abandon: bool = False) -> None:
        """Drop the producer. After a failed send it is ``abandon``ed: its buffered and in-flight
        records are failed, never flushed. The relay has already counted them as not published and
        will send them again; a producer left to deliver them once the broker is back would publish
        them twice (under its old producer id the broker cannot tell the copies apart)."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        if abandon:
            with contextlib.suppress(Exception):
                producer._message_accumulator.fail_all(KafkaTimeoutError())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.client.close(), 10)
            sender = getattr(producer, "_sender", None)
            task = getattr(sender, "sender_task", None)
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, 10)
            producer._closed = True
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)

    async def publish_batch(self) -> int:
        """Publish up to ``batch_size`` rows; returns how many were published."""
        async with self.db.transaction() as session:
            driver = await driver_connection(session)
            if not await driver.fetchval(_TRY_RELAY_LOCK, self.lock_key):
                return 0  # another replica's relay is publishing right now
            rows: list[Any] = await driver.fetch(_UNPUBLISHED, self.batch_size)
            if not rows:
                return 0
            await self._send(rows)
            await self.mark_published(session, [row[0] for row in rows])
        for row in rows:
            self._published(row[3]).inc()
        return len(rows)

    def _published(self, event_type: str) -> Any:
        """The counter child of this event type, looked up once (``labels()`` costs more than ``inc()``)."""
        child = self._published_children.get(event_type)
        if child is None:
            child = self._published_children[event_type] = self.metrics.events_published.labels(type=event_type)
        return child

    async def _send(self, rows: Sequence[Any]) -> None:
        """``rows``: (id, topic, message_key, event_type, payload) in id order."""
        producer = await self._ensure_producer()
        headers = [("content-type", CONTENT_TYPE.encode())]
        futures = [
            await producer.send(topic, payload.encode("utf-8"), key=key.encode("utf-8"), headers=headers)
            for _, topic, key, _, payload in rows
        ]
        await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout)

    async def mark_published(self, session: AsyncSession, ids: list[int]) -> None:
        driver = await driver_connection(session)
        await driver.execute(_MARK_PUBLISHED, ids)

    async def _record_failure(self, error: str) -> None:
        with contextlib.suppress(Exception):
            async with self.db.transaction() as session:
                first = (
                    await session.execute(
                        select(func.min(outbox_table.c.id)).where(outbox_table.c.published_at.is_(None))
                    )
                ).scalar_one_or_none()
                if first is not None:
                    await session.execute(
                        update(outbox_table)
                        .where(outbox_table.c.id == first)
                        .values(attempts=outbox_table.c.attempts + 1, last_error=error[:2000])
                    )

    async def refresh_backlog_metrics(self) -> None:
        async with self.db.transaction() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox_table.c.created_at)).where(
                        outbox_table.c.published_at.is_(None)
                    )
                )
            ).one()
        self.metrics.outbox_pending.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        self.metrics.outbox_oldest_age.set(max(age, 0.0))

    async def run(self) -> None:
        backoff = 0.2
        last_metrics = 0.0
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.publish_batch()
                backoff = 0.2
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or DB down: keep the rows, retry with backoff
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox publish failed, will retry", extra={"error": self.last_error})
                await self._reset_producer(abandon=True)
                await self._record_failure(self.last_error)
                # keep the backlog gauges current during an outage: that is when they matter
                with contextlib.suppress(Exception):
                    await self.refresh_backlog_metrics()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            now = time.monotonic()
            if now - last_metrics > 1.0 or not published:
                with contextlib.suppress(Exception):
                    await self.refresh_backlog_metrics()
                last_metrics = now
            if published >= self.batch_size:
                continue  # there may be more
            if published and self._wake.is_set():
                continue  # rows committed while this batch was out
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self._reset_producer()
