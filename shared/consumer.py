"""The consumer runner: at-least-once delivery from Kafka made effectively-once by the inbox.

For each fetched batch of a partition: decode every record (CloudEvents envelope → upcast → catalogue
model) → in ONE database transaction claim all the event ids in the inbox (one multi-row statement)
and apply the handlers of the fresh ones in offset order, then the work they deferred to the end of
the batch (``at_batch_end``) → commit the Kafka offsets. A redelivered event finds its id in the
inbox and changes nothing. If the batch transaction fails for a reason that is not the database
being away, it is rolled back and the same records are applied one transaction each, so a single bad
record is isolated, retried and dead-lettered exactly as if it had arrived alone. A record that can never be processed
(undecodable, unknown type, invalid payload) or whose handler keeps failing after bounded retries is
published to the consumer's dead-letter topic with the reason and the original headers, and the
runner moves on. A database outage is not the event's fault: those errors are retried until the
database is back, never dead-lettered.

Rebalances (aiokafka #929): offsets are committed explicitly per partition; when partitions are
revoked the listener waits for the record in flight and commits what was processed; records of a
partition no longer assigned are not processed; a failed commit is logged, and the redelivery that
follows is absorbed by the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from shared.batch import SCOPE_KEY, BatchScope
from shared.db import Database, driver_connection
from shared.events import CATALOGUE, CloudEvent, DecodedEvent, PoisonEvent, decode
from shared.kafka import KafkaAccess, make_producer
from shared.kafka_access import source_allowed
from shared.metrics import Metrics
from shared.outbox import caused_by
from shared.topics import consumer_group, dead_letter_topic, qualified

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, DecodedEvent], Awaitable[None]]
RecordHook = Callable[[Any], Awaitable[None]]

# Records per fetch and so per transaction: big enough that the commit and the inbox claim are
# shared by many events, small enough that a rebalance never waits long for the batch in flight.
MAX_BATCH = 200


async def claim_inbox_many(session: AsyncSession, consumer: str, envelopes: list[CloudEvent]) -> set[tuple[str, str]]:
    """Record the events this consumer has not seen yet, in this transaction; returns their
    (source, id). One statement for the whole batch."""
    unique = {(e.source, e.id): e.type for e in envelopes}
    if not unique:
        return set()
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _CLAIM,
        consumer,
        [source for source, _ in unique],
        [event_id for _, event_id in unique],
        list(unique.values()),
    )
    return {(str(r[0]), str(r[1])) for r in rows}


# One prepared statement (asyncpg caches it per connection) with the batch's rows as arrays, on the
# session's own connection and transaction (shared.db.driver_connection): no per-row parameter
# processing, no statement compiled per batch size. A duplicate id finds its row and is skipped.
_CLAIM = (
    "INSERT INTO inbox (consumer, event_source, event_id, event_type)"
    " SELECT $1, s, i, t FROM unnest($2::text[], $3::text[], $4::text[]) AS u(s, i, t)"
    " ON CONFLICT DO NOTHING RETURNING event_source, event_id"
)


# SQLSTATE classes that say "try again", not "this event is bad": connection loss, serialization
# failure and deadlock, lack of resources, a lock not granted within lock_timeout (55P03), operator
# intervention (shutdown) and a statement cancelled by statement_timeout (57014).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "55P03", "57")


def is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        OSError | ConnectionError | TimeoutError | SQLAlchemyTimeout | asyncpg.exceptions.ConnectionDoesNotExistError,
    ):  # SQLAlchemyTimeout: no pooled connection free within db_pool_timeout_seconds
        return True
    if isinstance(exc, asyncpg.PostgresError):  # raised as is by writes on the driver (shared.db.driver_connection)
        return isinstance(exc.sqlstate, str) and exc.sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        sqlstate = getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return True
        if isinstance(cause, OSError | asyncpg.exceptions.InterfaceError):
            return True
    return False


class _HandlerFailed(Exception):
    """The handler of the batch's record at ``position`` raised (the cause is chained)."""

    def __init__(self, position: int) -> None:
        super().__init__(f"handler failed at batch position {position}")
        self.position = position


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.runner._processing:
            await self.runner._commit(only=set(revoked))
        for tp in revoked:  # another member owns them now; its lag is its own to report
            with contextlib.suppress(KeyError):
                self.runner.metrics.consumer_lag.remove(self.runner.name, tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"consumer": self.runner.name, "partitions": len(assigned)})


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        metrics: Metrics,
        kafka: KafkaAccess,
        topics: list[str],
        handlers: Mapping[str, Handler],
        namespace: str = "",
        max_attempts: int = 3,
        retry_backoff: float = 0.2,
        session_timeout_ms: int = 10_000,
        request_timeout_ms: int = 30_000,
        producer_request_timeout_ms: int = 15_000,
        delivery_timeout: float = 30.0,
        producer_factory: Callable[[], Any] | None = None,
    ) -> None:
        unknown = set(handlers) - set(CATALOGUE)
        if unknown:
            raise ValueError(f"handlers for types not in the catalogue: {sorted(unknown)}")
        self.name = name
        self.db = db
        self.metrics = metrics
        self.kafka = kafka
        self.topics = [qualified(namespace, t) for t in topics]
        self.group_id = consumer_group(namespace, name)
        self.dead_letter_topic = dead_letter_topic(namespace, name)
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.session_timeout_ms = session_timeout_ms
        # every consumer request; the dead-letter producer's requests and its wait for an acknowledgement
        self.request_timeout_ms = request_timeout_ms
        self.producer_request_timeout_ms = producer_request_timeout_ms
        self.delivery_timeout = delivery_timeout
        self.producer_factory = producer_factory
        # Fault-injection point for tests: runs after the DB commit, before the offset is committed.
        self.after_db_commit: RecordHook | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None
        self._processing = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}
        self._stopping = False
        self.started = asyncio.Event()
        self.namespace = namespace
        metrics.prepare_consumer(name)
        self._consumed_children: dict[tuple[str, str], Any] = {}
        self._processing_seconds = metrics.event_processing.labels(consumer=name)
        self._last_processed = metrics.consumer_last_processed.labels(consumer=name)
        # Liveness: the age of the batch in flight is computed at scrape time, so a handler that
        # hangs shows a growing age although nothing in this loop runs any more.
        self._batch_started: float | None = None
        metrics.consumer_batch_in_flight.labels(consumer=name).set_function(self._batch_age)
        self._last_poll = metrics.consumer_last_poll.labels(consumer=name)
        self._last_poll.set(time.time())

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until ``stop()``; reconnects after broker outages."""
        while not self._stopping:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    break
                log.exception("consumer loop failed; restarting", extra={"consumer": self.name})
                await self._close_consumer()
                await asyncio.sleep(1.0)

    async def _run_once(self) -> None:
        # The dead-letter topic exists: the admin step creates it with the others (shared.kafka_access).
        consumer = AIOKafkaConsumer(
            **self.kafka.aiokafka(),
            group_id=self.group_id,
            client_id=f"{self.name}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(self.session_timeout_ms // 4, 250),
            request_timeout_ms=max(self.request_timeout_ms, self.session_timeout_ms + 1000),
            max_poll_records=MAX_BATCH,
            metadata_max_age_ms=30_000,
        )
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer
        self.started.set()
        try:
            while not self._stopping:
                batch = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
                self._last_poll.set(time.time())
                for tp, records in batch.items():
                    if self._stopping or tp not in consumer.assignment() or not records:
                        continue  # revoked meanwhile: the new owner will read them
                    self._batch_started = time.monotonic()
                    try:
                        async with self._processing:
                            await self._process_batch(records)
                            self._pending[tp] = records[-1].offset + 1
                        await self._commit(only={tp})
                    finally:
                        self._batch_started = None
                await self._update_lag(consumer)
        finally:
            # Only a graceful stop commits on the way out; after a failure the process behaves as
            # if it had crashed (nothing more committed) and the inbox absorbs the redelivery.
            if self._stopping:
                with contextlib.suppress(Exception):
                    await self._commit()
            await self._close_consumer()

    async def stop(self) -> None:
        self._stopping = True

    async def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._pending.clear()
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 15)
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    # --- processing ------------------------------------------------------------------------

    async def _process_batch(self, records: list[Any]) -> None:
        """One partition's records, in offset order (so per-institution order is kept)."""
        started = time.perf_counter()
        decoded: list[tuple[Any, DecodedEvent]] = []
        for record in records:
            try:
                event = decode(record.value)
            except PoisonEvent as poison:
                await self._dead_letter(record, poison.reason, poison.detail)
                continue
            if not source_allowed(self.namespace, record.topic, event.envelope.source):
                # Defence in depth behind the ACLs: only the topic's owner publishes there, so a
                # record claiming another source is forged or misrouted and changes nothing.
                await self._dead_letter(
                    record,
                    "source_mismatch",
                    f"source {event.envelope.source[:200]!r} does not own {record.topic}",
                    event.type,
                )
                continue
            if event.type not in self.handlers:
                self._consumed(event.type, "ignored").inc()
                self._last_processed.set(time.time())  # skipping is progress too
                continue
            decoded.append((record, event))
        if not decoded:
            return
        await self._apply_in_batches(decoded, started)

    async def _apply_in_batches(self, decoded: list[tuple[Any, DecodedEvent]], started: float) -> None:
        """Apply together; when one record's handler fails, everything rolls back and the batch is
        split: the records before it together again, the failing record alone (its failed try in
        the batch counting as its first attempt, so it gets max_attempts in all before it is
        dead-lettered), then the records after it. A failure that names no record (deferred work)
        falls back to one transaction per record."""
        while decoded:
            if len(decoded) == 1:
                await self._process_one(*decoded[0])
                return
            try:
                fresh = await self._apply_together(decoded)
            except asyncio.CancelledError:
                raise
            except _HandlerFailed as failed:
                cause = failed.__cause__
                log.warning(
                    "a record failed inside its batch; applying around it",
                    extra={
                        "consumer": self.name,
                        "position": failed.position,
                        "error": f"{type(cause).__name__}: {cause}",
                    },
                )
                before, (record, event), after = (
                    decoded[: failed.position],
                    decoded[failed.position],
                    decoded[failed.position + 1 :],
                )
                await self._apply_in_batches(before, time.perf_counter())
                await self._process_one(record, event, attempts_used=1)
                decoded, started = after, time.perf_counter()
                continue
            except Exception as exc:
                log.warning(
                    "batch failed; applying its records one by one",
                    extra={"consumer": self.name, "records": len(decoded), "error": f"{type(exc).__name__}: {exc}"},
                )
                for record, event in decoded:
                    await self._process_one(record, event)
                return
            elapsed = (time.perf_counter() - started) / len(decoded)
            for (record, event), applied in zip(decoded, fresh, strict=True):
                if self.after_db_commit is not None:
                    await self.after_db_commit(record)
                self._count(event, applied, elapsed)
            return

    async def _apply_together(self, decoded: list[tuple[Any, DecodedEvent]]) -> list[bool]:
        """All records in one transaction; retried while the database is away."""
        while True:
            try:
                async with self.db.transaction() as session:
                    scope = BatchScope()
                    session.info[SCOPE_KEY] = scope
                    unseen = await claim_inbox_many(session, self.name, [event.envelope for _, event in decoded])
                    applied: list[bool] = []
                    for position, (_, event) in enumerate(decoded):
                        key = (event.envelope.source, event.envelope.id)
                        applied.append(key in unseen)
                        if key in unseen:
                            unseen.discard(key)  # the same event twice in one batch applies once
                            try:
                                with caused_by(session, event.envelope):  # what it derives gets derived ids
                                    await self.handlers[event.type](session, event)
                            except Exception as exc:
                                if is_transient(exc):
                                    raise
                                raise _HandlerFailed(position) from exc
                    await scope.run()
                return applied
            except Exception as exc:
                if is_transient(exc) and not self._stopping:
                    log.warning("database unavailable; retrying", extra={"consumer": self.name, "error": str(exc)})
                    await asyncio.sleep(1.0)
                    continue
                raise

    async def _process_one(self, record: Any, event: DecodedEvent, *, attempts_used: int = 0) -> None:
        started = time.perf_counter()
        handler = self.handlers[event.type]
        attempt = attempts_used
        while True:
            try:
                async with self.db.transaction() as session:
                    scope = BatchScope()
                    session.info[SCOPE_KEY] = scope
                    fresh = bool(await claim_inbox_many(session, self.name, [event.envelope]))
                    if fresh:
                        with caused_by(session, event.envelope):
                            await handler(session, event)
                        await scope.run()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc) and not self._stopping:
                    log.warning("database unavailable; retrying", extra={"consumer": self.name, "error": str(exc)})
                    await asyncio.sleep(1.0)
                    continue
                attempt += 1
                if attempt >= self.max_attempts or self._stopping:
                    await self._dead_letter(record, "handler_failed", f"{type(exc).__name__}: {exc}", event.type)
                    return
                log.warning(
                    "handler failed; retrying",
                    extra={"consumer": self.name, "type": event.type, "attempt": attempt, "error": str(exc)},
                )
                await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
        if self.after_db_commit is not None:
            await self.after_db_commit(record)
        self._count(event, fresh, time.perf_counter() - started)

    def _count(self, event: DecodedEvent, applied: bool, seconds: float) -> None:
        outcome = "applied" if applied else "duplicate"
        self._consumed(event.type, outcome).inc()
        self._processing_seconds.observe(seconds)
        self._last_processed.set(time.time())

    def _batch_age(self) -> float:
        started = self._batch_started
        return 0.0 if started is None else time.monotonic() - started

    def _consumed(self, event_type: str, outcome: str) -> Any:
        """The counter child for this label set, looked up once (``labels()`` costs more than ``inc()``)."""
        child = self._consumed_children.get((event_type, outcome))
        if child is None:
            child = self.metrics.events_consumed.labels(consumer=self.name, type=event_type, outcome=outcome)
            self._consumed_children[(event_type, outcome)] = child
        return child

    async def _dead_letter(self, record: Any, reason: str, detail: str, event_type: str | None = None) -> None:
        headers = list(record.headers or ()) + [
            ("dlq-reason", reason.encode()),
            ("dlq-error", detail[:4000].encode("utf-8", "replace")),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-consumer", self.name.encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        # The offset is only committed after the dead-letter topic acknowledged the record.
        backoff = 0.2
        while True:
            try:
                if self._producer is None:
                    if self.producer_factory is None:
                        self._producer = make_producer(
                            self.kafka,
                            client_id=f"{self.name}-dlq",
                            request_timeout_ms=self.producer_request_timeout_ms,
                        )
                    else:
                        self._producer = self.producer_factory()
                    await self._producer.start()
                await asyncio.wait_for(
                    self._producer.send_and_wait(
                        self.dead_letter_topic, record.value or b"", key=record.key, headers=headers
                    ),
                    self.delivery_timeout,
                )
                break
            except (KafkaError, TimeoutError, OSError):
                if self._stopping:
                    raise
                log.warning("dead-letter publish failed; retrying", extra={"consumer": self.name})
                producer, self._producer = self._producer, None
                if producer is not None:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        known_type = event_type if event_type in CATALOGUE else "unknown"
        self.metrics.dead_letters.labels(consumer=self.name, reason=reason).inc()
        self.metrics.events_consumed.labels(consumer=self.name, type=known_type, outcome="dead_lettered").inc()
        self._last_processed.set(time.time())  # a record moved to the dead-letter topic is finished
        log.error(
            "event dead-lettered",
            extra={"consumer": self.name, "reason": reason, "topic": record.topic, "offset": record.offset},
        )

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        offsets = {tp: off for tp, off in self._pending.items() if only is None or tp in only}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError:
            log.warning("offset commit refused after a rebalance; the inbox absorbs the redelivery")
        except KafkaError:
            log.warning("offset commit failed; the inbox absorbs the redelivery", exc_info=True)
        for tp in offsets:
            self._pending.pop(tp, None)

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            with contextlib.suppress(Exception):
                position = await consumer.position(tp)
                self.metrics.consumer_lag.labels(consumer=self.name, topic=tp.topic, partition=str(tp.partition)).set(
                    max(high - position, 0)
                )
