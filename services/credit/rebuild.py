"""Rebuild credit's database in bulk from the topics: ``python -m services.credit.rebuild [--workers N]``.

For an **empty, migrated** credit database (a lost database, a new replica's, a schema that is
simpler to rebuild than to migrate), with the service stopped (``CREDIT_DATABASE_URL``, the runtime
role's). Where ``services.credit.restore`` applies every record through the consumer code (an SQL
round trip per event, grades re-evaluated every batch), this command:

1. refuses a database that holds any credit row, inbox row or outbox row (``RebuildRefused``), and
   checks that the ``childcare.credit`` group has no members (``restore.GroupActive``);
2. reads the three topics credit consumes from their beginning to their end offsets at that moment,
   a chunk of records at a time: decodes each record with the shared decoder (envelope, upcasters,
   catalogue), dead-letters what the live consumer would dead-letter (undecodable, source not the
   topic's owner, a decision that cannot be replayed) to the same dead-letter topic with the same
   headers, skips the types credit has no handler for and the event ids it already applied, and
   folds each event into rows held in memory with the functions the live handlers use
   (``facts.py`` for domain events; ``repair.service`` and ``evaluation.service`` for credit's own
   decisions read back);
3. evaluates every subject once, at one instant, from its facts (``timeline.build``, the function
   the live re-evaluation uses) and writes every table with COPY (``shared.bulk``): records,
   entries, repairs, policy activations, standings, grade history, list stays, the inbox rows of
   every applied event (a consumer started afterwards skips each of them) and the outbox rows of
   what the subjects' final state announces;
4. commits the end offsets as the group's. The outbox is published by the service's relay once it
   runs again.

**Order.** Records are read in restore's order (merged across partitions by append timestamp, each
partition in offset order). The final state does not depend on it: a subject's rows are a function
of its dated facts (``timeline``), records fold order-free (``repository.fold_subject``) and a
repair decision shares its application's key and partition. Restore needs that order because it
evaluates after every batch: a rewound group reads credit's small topic (a policy activation) ahead
of the domain events that came before it and would announce grades from states the live service
never was in. This command evaluates only once, after every fact is in, so it reaches no
intermediate state at all; the order still decides the one first-wins rule (an entry recorded twice
for the same fact keeps the first, as ON CONFLICT DO NOTHING does live).

**What it announces.** Each subject's final state, as the live service announces a subject it
evaluates for the first time: the record opened (id derived from "opened"), an institution's grade
(derived from the grade and when the timeline reached it) and the current list stays (and a
person's ban), each under the id the live service gave that state (``records.service.announced``),
so every downstream inbox drops what it already has. Intermediate grades and stays already left are
not announced again: the live service announced them when they happened.

**Partition-parallel** (``--workers N``): worker *k* (an OS process, spawned, with its own event
loop and database pool) reads partition numbers *p* with *p* mod N = k of all three topics. The
domain topics are keyed by institution id and have the same partition count, so an institution's
every event, and its repairs on the credit topic, are read by one worker, which evaluates and writes
that institution. What crosses institutions is done by one writer, this process: a person's record
(a staff member hired or named by violations at several institutions), every repair (an institution
needs its approved repairs, wherever they were read) and the policy activations (every evaluation
needs them); the workers send those up after reading, and get the merged activations and repairs
back before evaluating. A worker that finds an institution another worker also read (topics keyed
otherwise, or partition counts that differ) stops the rebuild: run it with one worker.

**No half-written state.** Each worker writes everything in one transaction and holds it open until
every worker and this process have written theirs; only then does this process commit its own and
tell the workers to commit. A failure before that rolls every transaction back. A failure inside
that last round (a worker dying between two commits) can leave part of the rows: the next run then
refuses the non-empty database, and the database is dropped, migrated and rebuilt again.

**Memory.** Records are decoded and folded ``chunk`` at a time, but the folded rows (records,
entries, repairs) stay in memory until they are written: memory grows with the credit state (about
one row per subject and per entry), not with the number of records on the topics.

Not rebuilt (not in any event): repair evidence documents and the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from aiokafka import TopicPartition

from services.credit.consumers import credit_handlers
from services.credit.env import CreditEnv
from services.credit.evaluation import timeline
from services.credit.evaluation.service import (
    check_activation,
    facts_from_rows,
    grade_announcement,
    list_announcements,
)
from services.credit.facts import DOMAIN_FACTS, MarkDeregistered, OpenRecord, RecordEntry, facts_of
from services.credit.models import CreditEntry, CreditRepair
from services.credit.policy.documents import POLICY_DIR, Policy, default_registry
from services.credit.policy.service import default_policy
from services.credit.records.service import (
    Announcement,
    deregistered_at,
    new_entry,
    opened_announcement,
    subject_row,
)
from services.credit.repair.service import decision_is_new, repair_from_application, set_decision
from services.credit.repository import SUBJECT_COLUMNS, entry_row, fold_subject
from services.credit.restore import CONSUMER, TOPICS, GroupActive, _commit, _ends_if_idle, _merged
from services.credit.settings import CreditSettings
from shared.app import ServiceContext
from shared.bulk import copy_rows, nonempty_tables
from shared.consumer import ConsumerRunner
from shared.db import Database, Timeouts
from shared.events import DecodedEvent, PoisonEvent, decode
from shared.events.credit import CreditPolicyActivatedV1, CreditRepairAppliedV1, CreditRepairDecidedV1
from shared.kafka_access import source_allowed
from shared.logging import configure_logging
from shared.metrics import Metrics
from shared.outbox import Outbox, derived_event_id
from shared.topics import consumer_group, qualified

log = logging.getLogger(__name__)

Key = tuple[str, str]

# Every table the rebuild writes, and so must find empty.
TABLES = (
    "credit_subject",
    "credit_entry",
    "credit_repair",
    "credit_policy_activation",
    "credit_standing",
    "credit_grade_history",
    "credit_list_membership",
    "inbox",
    "outbox",
)
ENTRY_COLUMNS = tuple(entry_row(CreditEntry()).keys())
REPAIR_COLUMNS = (
    "id",
    "entry_id",
    "subject_kind",
    "subject_id",
    "status",
    "evidence_sha256",
    "commitment_zh",
    "applied_by",
    "applied_at",
    "decided_by",
    "decided_at",
    "decision_reason",
)
STANDING_COLUMNS = ("subject_kind", "subject_id", "policy_version", "score", "grade", "graded_at", "evaluated_at")
HISTORY_COLUMNS = (
    "subject_kind",
    "subject_id",
    "policy_version",
    "grade",
    "previous_grade",
    "score",
    "graded_at",
    "reason",
)
MEMBERSHIP_COLUMNS = (
    "list_name",
    "subject_kind",
    "subject_id",
    "reason",
    "legal_basis",
    "entered_at",
    "until",
    "cause_entry_ids",
    "left_at",
    "left_reason",
)
OWN_DECISIONS = (CreditRepairAppliedV1, CreditRepairDecidedV1, CreditPolicyActivatedV1)


class RebuildRefused(RuntimeError):
    """The database is not empty, or the topics cannot be split as asked."""


class WorkerFailed(RuntimeError):
    """A worker process failed (its traceback is the message)."""


@dataclass(frozen=True)
class TableWrite:
    """One table's COPY: rows sent and seconds until the server acknowledged it (rows and seconds
    added up over the writers when there are several)."""

    rows: int
    seconds: float


@dataclass(frozen=True)
class Phases:
    """Where a rebuild's wall time went (seconds): reading and folding the topics, evaluating every
    subject, writing every table up to and including the commit. With several workers they are this
    process's spans (read: until every worker has read; evaluate: the shared part; write: until
    every writer has committed) and ``tables`` adds up every writer's COPYs, which overlap."""

    read_seconds: float = 0.0
    evaluate_seconds: float = 0.0
    write_seconds: float = 0.0
    prepare_seconds: float = 0.0  # of write_seconds: building the outbox rows (envelopes), before the transaction
    commit_seconds: float = 0.0  # of write_seconds: this process's COMMIT
    tables: dict[str, TableWrite] = field(default_factory=dict)

    def log(self, events: int) -> None:
        log.info(
            "credit rebuild phases",
            extra={
                "events": events,
                "read_seconds": round(self.read_seconds, 2),
                "evaluate_seconds": round(self.evaluate_seconds, 2),
                "write_seconds": round(self.write_seconds, 2),
                "prepare_seconds": round(self.prepare_seconds, 2),
                "commit_seconds": round(self.commit_seconds, 2),
                "tables": {t: (w.rows, round(w.seconds, 2)) for t, w in self.tables.items()},
            },
        )


@dataclass(frozen=True)
class CreditRebuildResult:
    records: int  # on the three topics when the rebuild started
    applied: int  # events applied (each has its inbox row)
    ignored: int  # types credit has no handler for
    duplicates: int  # an event id met again (the inbox would have dropped it)
    dead_lettered: int
    subjects: int
    entries: int
    announced: int  # outbox rows written
    workers: int
    phases: Phases = field(default_factory=Phases)


@dataclass
class Book:
    """The rows a set of records folds into, before evaluation."""

    subjects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    entries: dict[uuid.UUID, CreditEntry] = field(default_factory=dict)
    repairs: dict[uuid.UUID, CreditRepair] = field(default_factory=dict)
    activations: dict[tuple[str, datetime], tuple[str, str, datetime]] = field(default_factory=dict)
    inbox: list[tuple[str, str, str, str]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    records: int = 0
    ignored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0

    def apply(self, event: DecodedEvent, env: CreditEnv, as_of: datetime) -> None:
        """Fold one event in, as the live handler would apply it; raises (changing nothing) when the
        live handler would fail."""
        data = event.data
        if type(data) in DOMAIN_FACTS:
            facts = facts_of(event, env)  # raises before anything is folded
            for fact in facts:
                if isinstance(fact, OpenRecord):
                    row = subject_row(
                        kind=fact.kind,
                        subject_id=fact.subject_id,
                        at=fact.at,
                        source=fact.source,
                        display_name=fact.display_name,
                        district_code=fact.district_code,
                    )
                    held = self.subjects.get((fact.kind, fact.subject_id))
                    if held is None:
                        self.subjects[(fact.kind, fact.subject_id)] = {**row, "deregistered_at": None}
                    else:
                        fold_subject(held, row)
                elif isinstance(fact, RecordEntry):
                    entry = new_entry(env, **fact.entry_fields(), recorded_at=as_of)
                    if entry is not None:
                        self.entries.setdefault(entry.id, entry)  # the first one recorded wins
                elif isinstance(fact, MarkDeregistered):
                    subject = self.subjects[("institution", fact.institution_id)]  # opened by the fact before
                    subject["deregistered_at"] = deregistered_at(subject["deregistered_at"], fact.at)
                # Regrade: every subject is evaluated once, after the last record
        elif isinstance(data, CreditRepairAppliedV1):
            if data.repair_id not in self.repairs:
                self.repairs[data.repair_id] = repair_from_application(data)
        elif isinstance(data, CreditRepairDecidedV1):
            repair = self.repairs.get(data.repair_id)
            if decision_is_new(repair, data) and repair is not None:
                set_decision(
                    repair, approve=data.approved, reason=data.reason, decided_by=data.decided_by, at=data.decided_at
                )
        elif isinstance(data, CreditPolicyActivatedV1):
            check_activation(env, data)
            self.activations.setdefault(
                (data.version, data.activated_at), (data.version, data.activated_by, data.activated_at)
            )
        else:  # the drift guard in _handled_types keeps this unreachable
            raise RuntimeError(f"no bulk rule for {event.type}")

    def take_shared(self) -> Book:
        """Remove and return what crosses institutions (persons, repairs, activations): one writer
        does it (the module's docstring)."""
        shared = Book(repairs=self.repairs, activations=self.activations)
        self.repairs, self.activations = {}, {}
        for key in [k for k in self.subjects if k[0] != "institution"]:
            shared.subjects[key] = self.subjects.pop(key)
        for entry_id in [i for i, e in self.entries.items() if e.subject_kind != "institution"]:
            shared.entries[entry_id] = self.entries.pop(entry_id)
        return shared

    def merge(self, other: Book) -> None:
        """Fold another worker's shared part into this one."""
        for key, row in other.subjects.items():
            if key in self.subjects:
                fold_subject(self.subjects[key], row)
                held = self.subjects[key]["deregistered_at"]
                if row["deregistered_at"] is not None:
                    self.subjects[key]["deregistered_at"] = deregistered_at(held, row["deregistered_at"])
            else:
                self.subjects[key] = row
        for entry_id, entry in other.entries.items():
            self.entries.setdefault(entry_id, entry)
        for repair_id, repair in other.repairs.items():
            self.repairs.setdefault(repair_id, repair)
        for at_key, activation in other.activations.items():
            self.activations.setdefault(at_key, activation)


@dataclass(frozen=True)
class _Tally:
    """What one reader counted."""

    applied: int
    ignored: int
    duplicates: int
    dead_lettered: int


@dataclass
class Rows:
    """What one writer COPYs."""

    subjects: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    standings: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    memberships: list[tuple[Any, ...]] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)


def _env(settings: CreditSettings, clock: Callable[[], datetime]) -> CreditEnv:
    registry = default_registry(settings.policy_dir or str(POLICY_DIR))
    return CreditEnv(registry=registry, default_version=settings.default_policy_version, now=clock)


def _activations(env: CreditEnv, book: Book) -> list[tuple[datetime, Policy]]:
    """As ``policy.service.policy_activations``: oldest first by their own time."""
    out: list[tuple[datetime, Policy]] = []
    for version, _, at in sorted(book.activations.values(), key=lambda a: a[2]):
        policy = env.registry.get(version)
        if policy is None:  # check_activation refused it when read
            raise RuntimeError(f"policy version {version} is not available")
        out.append((at, policy))
    return out


def evaluate_rows(
    subjects: dict[Key, dict[str, Any]],
    entries: Iterable[CreditEntry],
    repairs: Iterable[CreditRepair],
    default: Policy,
    activations: list[tuple[datetime, Policy]],
    as_of: datetime,
) -> Rows:
    """Every subject of ``subjects`` evaluated at ``as_of`` from its entries and approved repairs,
    as ``evaluation.service.reevaluate`` does a subject it evaluates for the first time."""
    entries_by: dict[Key, list[CreditEntry]] = {}
    for entry in entries:
        entries_by.setdefault((entry.subject_kind, entry.subject_id), []).append(entry)
    repairs_by: dict[Key, list[CreditRepair]] = {}
    for repair in repairs:
        repairs_by.setdefault((repair.subject_kind, repair.subject_id), []).append(repair)
    rows = Rows()
    for key in sorted(subjects):
        kind, subject_id = key
        subject = subjects[key]
        rows.subjects.append(tuple(subject[c] for c in (*SUBJECT_COLUMNS, "deregistered_at")))
        rows.announcements.append(opened_announcement(key, subject["opened_at"], subject["opened_by_event_id"]))
        own = sorted(entries_by.get(key, ()), key=lambda e: (e.effective_from, e.id))
        for entry in own:
            row = entry_row(entry)
            rows.entries.append(tuple(row[c] for c in ENTRY_COLUMNS))
        inputs, repair_reasons = facts_from_rows(own, repairs_by.get(key, []))
        line = timeline.build(inputs, default, activations, repair_reasons, as_of)
        if line is None:
            continue  # no effective entry yet: not graded (未评级)
        current = line.current
        rows.standings.append(
            (kind, subject_id, current.policy_version, current.score, current.grade, line.graded_at, as_of)
        )
        rows.history.extend(
            (kind, subject_id, p.policy_version, p.grade, p.previous_grade, p.score, p.graded_at, p.reason)
            for p in line.history
        )
        rows.memberships.extend(
            (
                s.list_name,
                kind,
                subject_id,
                s.reason,
                s.legal_basis,
                s.entered_at,
                s.until,
                list(s.cause_entry_ids),
                s.left_at,
                s.left_reason,
            )
            for s in line.stays
        )
        grade = grade_announcement(kind, subject_id, None, line, as_of)
        if grade is not None:
            rows.announcements.append(grade)
        rows.announcements.extend(list_announcements(kind, subject_id, set(), line, inputs, as_of))
    # entries of subjects this writer does not hold cannot exist: every entry's event opens its record
    return rows


def _outbox_rows(outbox: Outbox, announcements: list[Announcement]) -> list[tuple[str, ...]]:
    """The rows ``Outbox.add`` writes for these announcements (the same derived ids), each id once."""
    rows: dict[str, tuple[str, ...]] = {}
    for item in announcements:
        event_id = derived_event_id(outbox.source, item.data.event_type, item.subject, item.derived_from)
        envelope = outbox.envelope(item.data, subject=item.subject, at=item.at, event_id=event_id)
        rows.setdefault(
            envelope.id,
            (
                envelope.id,
                qualified(outbox.namespace, item.data.topic),
                item.subject,
                envelope.type,
                envelope.to_json(),
            ),
        )
    return list(rows.values())


def _repair_rows(repairs: Iterable[CreditRepair]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(r, c) for c in REPAIR_COLUMNS) for r in sorted(repairs, key=lambda r: r.applied_at)]


@dataclass(frozen=True)
class _Written:
    announced: int  # outbox rows
    tables: dict[str, TableWrite]
    prepare_seconds: float  # building the outbox and repair rows, before the transaction
    commit_seconds: float


async def _write(
    db: Database,
    outbox: Outbox,
    rows: Rows,
    *,
    inbox: list[tuple[str, str, str, str]],
    repairs: Iterable[CreditRepair] = (),
    activations: Iterable[tuple[str, str, datetime]] = (),
    before_commit: Callable[[int, dict[str, TableWrite]], Any] | None = None,
) -> _Written:
    """COPY every table in one transaction; ``before_commit`` (awaited with the number of outbox
    rows and the tables written so far) decides, by returning or raising, whether it commits."""
    started = time.perf_counter()
    outbox_rows = _outbox_rows(outbox, rows.announcements)
    writes: list[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = [
        ("credit_subject", (*SUBJECT_COLUMNS, "deregistered_at"), rows.subjects),
        ("credit_entry", ENTRY_COLUMNS, rows.entries),
        ("credit_repair", REPAIR_COLUMNS, _repair_rows(repairs)),
        (
            "credit_policy_activation",
            ("version", "activated_by", "activated_at"),
            sorted(activations, key=lambda a: a[2]),
        ),
        ("credit_standing", STANDING_COLUMNS, rows.standings),
        ("credit_grade_history", HISTORY_COLUMNS, rows.history),
        ("credit_list_membership", MEMBERSHIP_COLUMNS, rows.memberships),
        ("inbox", ("consumer", "event_source", "event_id", "event_type"), inbox),
        ("outbox", ("event_id", "topic", "message_key", "event_type", "payload"), outbox_rows),
    ]
    prepared = time.perf_counter() - started
    tables: dict[str, TableWrite] = {}
    async with db.transaction() as session:
        for table, columns, table_rows in writes:
            started = time.perf_counter()
            sent = await copy_rows(session, table, columns, table_rows)
            tables[table] = TableWrite(sent, time.perf_counter() - started)
            log.info(
                "credit rebuild: %s written", table, extra={"rows": sent, "seconds": round(tables[table].seconds, 2)}
            )
        if before_commit is not None:
            await before_commit(len(outbox_rows), tables)
        started = time.perf_counter()
    return _Written(len(outbox_rows), tables, prepared, time.perf_counter() - started)


class _DeadLetters:
    """The live consumer's dead-lettering (same topic, same headers), through a runner that is
    never started: only its dead-letter producer, created at the first poison record."""

    def __init__(self, settings: CreditSettings, db: Database, handlers: Any) -> None:
        self.settings, self.db, self.handlers = settings, db, handlers
        self.runner: ConsumerRunner | None = None

    async def send(self, record: Any, reason: str, detail: str, event_type: str | None = None) -> None:
        if self.runner is None:
            s = self.settings
            self.runner = ConsumerRunner(
                name=CONSUMER,
                db=self.db,
                metrics=Metrics(f"{CONSUMER}_rebuild"),
                kafka=s.kafka_access(),
                topics=list(TOPICS),
                handlers=self.handlers,
                namespace=s.kafka_namespace,
                producer_request_timeout_ms=s.kafka_request_timeout_ms,
                delivery_timeout=s.kafka_delivery_timeout_seconds,
            )
        await self.runner._dead_letter(record, reason, detail, event_type)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner._close_consumer()


def _handlers(settings: CreditSettings, db: Database, env: CreditEnv) -> Any:
    """The live consumer's registry: which types credit handles (the bulk rules cover exactly them)."""
    context = ServiceContext(
        settings=settings,
        db=db,
        outbox=Outbox(source=settings.source, namespace=settings.kafka_namespace),
        metrics=Metrics(f"{CONSUMER}_rebuild_registry"),
    )
    handlers = credit_handlers(context, env)
    bulk = {c.event_type for c in DOMAIN_FACTS} | {c.event_type for c in OWN_DECISIONS}
    if set(handlers) != bulk:  # drift guard: a handler added live needs its bulk rule
        raise RuntimeError(f"the live handlers and the bulk rules differ: {sorted(set(handlers) ^ bulk)}")
    return handlers


async def _read(
    settings: CreditSettings,
    db: Database,
    env: CreditEnv,
    partitions: list[TopicPartition],
    ends: dict[TopicPartition, int],
    as_of: datetime,
    chunk: int,
) -> Book:
    """Read ``partitions`` up to ``ends`` in append order and fold every record into a Book."""
    handlers = _handlers(settings, db, env)
    dead_letters = _DeadLetters(settings, db, handlers)
    namespace = settings.kafka_namespace
    book = Book()

    async def fold(records: list[Any]) -> None:
        for record in records:
            book.records += 1
            try:
                event = decode(record.value)
            except PoisonEvent as poison:
                await dead_letters.send(record, poison.reason, poison.detail)
                book.dead_lettered += 1
                continue
            if not source_allowed(namespace, record.topic, event.envelope.source):
                detail = f"source {event.envelope.source[:200]!r} does not own {record.topic}"
                await dead_letters.send(record, "source_mismatch", detail, event.type)
                book.dead_lettered += 1
                continue
            if event.type not in handlers:
                book.ignored += 1
                continue
            key = (event.envelope.source, event.envelope.id)
            if key in book.seen:
                book.duplicates += 1
                continue
            try:
                book.apply(event, env, as_of)
            except Exception as exc:  # what the live handler fails on every attempt: dead-lettered, no inbox row
                await dead_letters.send(record, "handler_failed", f"{type(exc).__name__}: {exc}", event.type)
                book.dead_lettered += 1
                continue
            book.seen.add(key)
            book.inbox.append((CONSUMER, event.envelope.source, event.envelope.id, event.type))

    try:
        pending: list[Any] = []
        async for record in _merged(settings.kafka_access(), partitions, ends):
            pending.append(record)
            if len(pending) >= chunk:
                await fold(pending)
                pending = []
        await fold(pending)
    finally:
        await dead_letters.close()
    return book


def _database(url: str) -> Database:
    # A maintenance command: no statement or lock timeout (a COPY of a whole table may run long).
    return Database(url, pool_size=2, timeouts=Timeouts())


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


async def rebuild(
    db: Database,
    settings: CreditSettings,
    *,
    workers: int = 1,
    chunk: int = 5000,
    clock: Callable[[], datetime] | None = None,
) -> CreditRebuildResult:
    """Rebuild the empty database ``db`` from the topics (the module's docstring). ``clock``: the
    instant every subject is evaluated at (the service's clock; tests pass theirs)."""
    if workers < 1 or chunk < 1:
        raise ValueError("workers and chunk must be at least 1")
    async with db.transaction() as session:
        filled = await nonempty_tables(session, TABLES)
    if filled:
        raise RebuildRefused(
            f"the credit database is not empty ({', '.join(filled)}): the bulk rebuild needs an empty, migrated "
            "database (to catch a restored dump up, use python -m services.credit.restore)"
        )
    as_of = (clock or (lambda: datetime.now(UTC)))()
    env = _env(settings, lambda: as_of)
    kafka = settings.kafka_access()
    group = consumer_group(settings.kafka_namespace, CONSUMER)
    ends = await _ends_if_idle(kafka, group, [qualified(settings.kafka_namespace, t) for t in TOPICS])
    records = sum(ends.values())
    outbox = Outbox(source=settings.source, namespace=settings.kafka_namespace)
    sets = _partition_sets(ends, workers)
    if len(sets) == 1:
        started = time.perf_counter()
        book = await _read(settings, db, env, list(ends), ends, as_of, chunk)
        read = time.perf_counter()
        log.info("credit rebuild: read and folded", extra={"records": records, "seconds": round(read - started, 2)})
        rows = evaluate_rows(
            book.subjects,
            book.entries.values(),
            book.repairs.values(),
            default_policy(env),
            _activations(env, book),
            as_of,
        )
        evaluated = time.perf_counter()
        log.info(
            "credit rebuild: evaluated", extra={"subjects": len(rows.subjects), "seconds": round(evaluated - read, 2)}
        )
        written = await _write(
            db, outbox, rows, inbox=book.inbox, repairs=book.repairs.values(), activations=book.activations.values()
        )
        announced = written.announced
        phases = Phases(
            read - started,
            evaluated - read,
            time.perf_counter() - evaluated,
            written.prepare_seconds,
            written.commit_seconds,
            written.tables,
        )
        totals = [_Tally(len(book.inbox), book.ignored, book.duplicates, book.dead_lettered)]
        subjects, entries = len(rows.subjects), len(rows.entries)
    else:
        totals, subjects, entries, announced, phases = await _in_parallel(
            db, settings, env, outbox, sets, ends, as_of, chunk
        )
    phases.log(records)
    await _commit(kafka, group, ends)
    return CreditRebuildResult(
        records=records,
        applied=sum(t.applied for t in totals),
        ignored=sum(t.ignored for t in totals),
        duplicates=sum(t.duplicates for t in totals),
        dead_lettered=sum(t.dead_lettered for t in totals),
        subjects=subjects,
        entries=entries,
        announced=announced,
        workers=len(sets),
        phases=phases,
    )


def _partition_sets(ends: dict[TopicPartition, int], workers: int) -> list[list[TopicPartition]]:
    """Partition number p of every topic goes to set p mod N (at most one set per partition number)."""
    counts = {tp.topic: 0 for tp in ends}
    for tp in ends:
        counts[tp.topic] += 1
    if workers == 1:
        return [list(ends)]
    if len(set(counts.values())) != 1:
        raise RebuildRefused(
            f"the topics have different partition counts {counts}: an institution's events would be read by "
            "several workers; rebuild with --workers 1"
        )
    n = min(workers, next(iter(counts.values())))
    return [sorted(tp for tp in ends if tp.partition % n == k) for k in range(n)]


# --- partition-parallel ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    settings: CreditSettings
    database_url: str
    partitions: list[TopicPartition]
    ends: dict[TopicPartition, int]
    as_of: datetime
    chunk: int


def _worker_main(job: _Job, conn: Connection) -> None:
    """A worker process (spawned): its own event loop and database pool."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_worker(job, conn))
    except BaseException:
        conn.send(("failed", traceback.format_exc()))
        raise SystemExit(1) from None


async def _worker(job: _Job, conn: Connection) -> None:
    env = _env(job.settings, lambda: job.as_of)
    db = _database(job.database_url)
    try:
        book = await _read(job.settings, db, env, job.partitions, job.ends, job.as_of, job.chunk)
        shared = book.take_shared()
        institutions = {k[1] for k in book.subjects}
        conn.send(("read", shared, institutions))
        message = await _receive(conn, None)
        if message[0] != "evaluate":
            return
        _, repairs, activation_rows = message
        activations = _activations(env, Book(activations={(a[0], a[2]): a for a in activation_rows}))
        rows = evaluate_rows(
            book.subjects,
            book.entries.values(),
            [r for r in repairs if r.subject_kind == "institution" and r.subject_id in institutions],
            default_policy(env),
            activations,
            job.as_of,
        )
        outbox = Outbox(source=job.settings.source, namespace=job.settings.kafka_namespace)
        tally = _Tally(len(book.inbox), book.ignored, book.duplicates, book.dead_lettered)

        async def hold(announced: int, tables: dict[str, TableWrite]) -> None:
            conn.send(("ready", (tally, len(rows.subjects), len(rows.entries), announced, tables)))
            if (await _receive(conn, None))[0] != "commit":
                raise WorkerFailed("aborted: another writer failed")  # rolls this worker's transaction back

        await _write(db, outbox, rows, inbox=book.inbox, before_commit=hold)
        conn.send(("committed",))
    finally:
        await db.dispose()


async def _receive(conn: Connection, process: BaseProcess | None) -> Any:
    """The next message on ``conn``, waiting in a thread; a worker that died without a word fails."""
    while True:
        if await asyncio.to_thread(conn.poll, 0.5):
            message = conn.recv()
            if message[0] == "failed":
                raise WorkerFailed(message[1])
            return message
        if process is not None and not process.is_alive():
            raise WorkerFailed(f"worker process exited with code {process.exitcode}")


async def _in_parallel(
    db: Database,
    settings: CreditSettings,
    env: CreditEnv,
    outbox: Outbox,
    sets: list[list[TopicPartition]],
    ends: dict[TopicPartition, int],
    as_of: datetime,
    chunk: int,
) -> tuple[list[_Tally], int, int, int, Phases]:
    context = multiprocessing.get_context("spawn")
    started_at = time.perf_counter()
    url = _url(db)
    started: list[tuple[Any, Connection]] = []  # (SpawnProcess, its pipe)
    try:
        for partitions in sets:
            ours, theirs = context.Pipe()
            job = _Job(settings, url, partitions, {tp: ends[tp] for tp in partitions}, as_of, chunk)
            process = context.Process(target=_worker_main, args=(job, theirs), daemon=True)
            process.start()
            theirs.close()
            started.append((process, ours))
        # 1. every worker has read its partitions: merge what crosses institutions
        shared = Book()
        held_by: dict[str, int] = {}
        for n, (process, conn) in enumerate(started):
            _, part, institutions = await _receive(conn, process)
            for institution in institutions:
                if held_by.setdefault(institution, n) != n:
                    raise RebuildRefused(
                        f"institution {institution} was read by two workers (topics not keyed by institution?): "
                        "rebuild with --workers 1"
                    )
            shared.merge(part)
        read = time.perf_counter()
        log.info("credit rebuild: every worker has read", extra={"seconds": round(read - started_at, 2)})
        activations = _activations(env, shared)
        for _, conn in started:
            conn.send(("evaluate", list(shared.repairs.values()), list(shared.activations.values())))
        # 2. the single writer of the shared part, committed only when every worker is ready
        rows = evaluate_rows(
            shared.subjects,
            shared.entries.values(),
            [r for r in shared.repairs.values() if r.subject_kind != "institution"],
            default_policy(env),
            activations,
            as_of,
        )
        evaluated = time.perf_counter()
        ready: list[tuple[_Tally, int, int, int, dict[str, TableWrite]]] = []

        async def wait_for_workers(_: int, __: dict[str, TableWrite]) -> None:
            for process, conn in started:
                ready.append((await _receive(conn, process))[1])

        written = await _write(
            db,
            outbox,
            rows,
            inbox=[],
            repairs=shared.repairs.values(),
            activations=shared.activations.values(),
            before_commit=wait_for_workers,
        )
        # 3. committed here: the workers commit theirs
        for _, conn in started:
            conn.send(("commit",))
        for process, conn in started:
            await _receive(conn, process)
            process.join(30)
        committed = time.perf_counter()
    except BaseException:
        for process, conn in started:
            if process.is_alive():
                try:
                    conn.send(("abort",))
                except OSError:
                    pass
        for process, _ in started:
            process.join(30)
            if process.is_alive():
                process.terminate()
        raise
    subjects = len(rows.subjects) + sum(r[1] for r in ready)
    entries = len(rows.entries) + sum(r[2] for r in ready)
    tables = dict(written.tables)
    for worker_tables in (r[4] for r in ready):
        for table, w in worker_tables.items():
            held = tables.get(table, TableWrite(0, 0.0))
            tables[table] = TableWrite(held.rows + w.rows, held.seconds + w.seconds)
    phases = Phases(
        read - started_at,
        evaluated - read,
        committed - evaluated,
        written.prepare_seconds,
        written.commit_seconds,
        tables,
    )
    return [r[0] for r in ready], subjects, entries, written.announced + sum(r[3] for r in ready), phases


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="processes, one per set of partitions")
    parser.add_argument("--chunk", type=int, default=5000, help="records decoded and folded at a time")
    args = parser.parse_args()
    settings = CreditSettings()
    configure_logging(settings.service_name, settings.log_level)  # the phases are logged at INFO
    if not settings.database_url:
        raise SystemExit(
            f"set {settings.setting_name('database_url')}: the empty, migrated database, as the runtime role"
        )
    db = _database(settings.database_url)
    started = time.monotonic()
    try:
        result = await rebuild(db, settings, workers=args.workers, chunk=args.chunk)
    except (RebuildRefused, GroupActive) as exc:
        raise SystemExit(str(exc)) from exc
    finally:
        await db.dispose()
    counts = {k: v for k, v in result.__dict__.items() if k != "phases"}  # the phases were logged before
    log.warning("credit rebuilt from the topics", extra={**counts, "seconds": round(time.monotonic() - started, 1)})


if __name__ == "__main__":
    asyncio.run(_main())
