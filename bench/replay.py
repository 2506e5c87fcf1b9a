"""P4 (replay) and P6 (growth): rebuild the credit and reporting read models from the topics.

A dataset of N filing events is produced straight to a namespace's topics (with the ledger topic's
``entry_shared.v2`` records that name each event in order, as the live reporting service would have
left them). Then, one after the other:

* bare: one aiokafka consumer reads every record of the topics a rebuild reads, to their end;
* fair limit (per read model): the same consume, plus decoding every record with the shared decoder
  and COPYing the rows the platform leaves for these events into the same tables of a fresh migrated
  database (``fair_limit``): the cost of Kafka + JSON + PostgreSQL alone;
* credit: ``services/credit/rebuild.py`` (bulk) into an empty, migrated credit database;
* reporting: ``services/reporting/rebuild.py`` into an empty, migrated reporting database;
* optionally each bulk path again with two workers, and the live consumer-group replay of credit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import importlib
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from asyncpg.connection import Connection
from asyncpg.prepared_stmt import PreparedStatement

from bench import events
from bench.infra import RssSampler, Stack, cpu_seconds, plain_url, rss_mib
from bench.pipeline import StatementCounter, create_topics, credit_runner, wait_for
from services.credit.settings import CreditSettings
from services.reporting.rebuild import rebuild
from services.reporting.settings import ReportingSettings
from shared.db import Database
from shared.events import CloudEvent, DecodedEvent, decode
from shared.events.filing import AnnualReportSubmittedV1, InstitutionFiledV1, InstitutionSubmittedV1
from shared.events.reporting import LedgerEntrySharedV2
from shared.outbox import Outbox
from shared.topics import CREDIT_EVENTS, DOMAIN_TOPICS, FILING_EVENTS, LEDGER_CHANGES, qualified

log = logging.getLogger("bench")


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


def _cpu_with_children() -> float:
    """This process's CPU seconds plus those of its children that have ended (a rebuild with
    several workers may run them as processes)."""
    try:
        fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return cpu_seconds()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def _count(url: str, table: str) -> int:
    conn = await asyncpg.connect(plain_url(url))
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


# --- statements of a run, for EXPLAIN ----------------------------------------------------------------


class StatementLog:
    """The SQL statements this process sends while ``capturing()``, with how often and the
    parameters of their last call: at asyncpg's level, so SQLAlchemy's (prepared statements), the
    prepared statements and ``executemany`` the services send on their sessions' asyncpg connections,
    and plain ``fetch``/``execute`` with parameters are all seen; COPY and parameterless simple
    queries (transaction control) are not. What it keeps per call is a counter and a reference, so
    it costs the run nothing measurable. Worker processes are not seen (their own interpreters)."""

    def __init__(self) -> None:
        # statement text → [calls, parameters of the last call]
        self.seen: dict[str, list[Any]] = {}

    def _note(self, statement: str, parameters: Any, many: bool) -> None:
        if many:
            rows = parameters if isinstance(parameters, (list, tuple)) else []
            parameters = rows[-1] if rows else None  # one row of an executemany
        entry = self.seen.setdefault(statement, [0, None])
        entry[0] += 1
        entry[1] = parameters

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """asyncpg's entry points wrapped at class level for the duration (this process's
        connections all go through them), restored afterwards."""
        note = self._note
        bind_name = "_PreparedStatement__bind_execute"
        bind_execute = getattr(PreparedStatement, bind_name)
        prepared_many = PreparedStatement.executemany
        connection_execute = Connection._execute
        connection_many = Connection._executemany

        async def bind(stmt: Any, args: Any, *rest: Any) -> Any:
            note(stmt._query, args, False)
            return await bind_execute(stmt, args, *rest)

        async def stmt_many(stmt: Any, args: Any, **options: Any) -> Any:
            args = list(args)
            note(stmt._query, args, True)
            return await prepared_many(stmt, args, **options)

        async def conn_execute(conn: Any, query: str, args: Any, *rest: Any, **options: Any) -> Any:
            note(query, args, False)
            return await connection_execute(conn, query, args, *rest, **options)

        async def conn_many(conn: Any, query: str, args: Any, *rest: Any, **options: Any) -> Any:
            args = list(args)
            note(query, args, True)
            return await connection_many(conn, query, args, *rest, **options)

        patched: list[tuple[Any, str, Any]] = [
            (PreparedStatement, bind_name, bind),
            (PreparedStatement, "executemany", stmt_many),
            (Connection, "_execute", conn_execute),
            (Connection, "_executemany", conn_many),
        ]
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
        for owner, name, wrapper in patched:
            setattr(owner, name, wrapper)
        try:
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    def batch_statements(self, *, at_least: int = 2, limit: int = 8) -> list[tuple[str, int, Any]]:
        """The statements run per batch (at least ``at_least`` calls; not transaction control or
        the connection's set-up), the most frequent first."""
        skip = (
            "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ", "SHOW ", "SELECT 1", "SELECT PG_",
            "SELECT CURRENT_SCHEMA", "SELECT VERSION",
        )  # fmt: skip
        found = [
            (text, calls, params)
            for text, (calls, params) in self.seen.items()
            if calls >= at_least and not text.lstrip().upper().startswith(skip)
        ]
        return sorted(found, key=lambda t: -t[1])[:limit]


async def explain_statements(url: str, log: StatementLog) -> list[dict[str, Any]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each batch statement with the parameters of its last call,
    against the database the run produced, each in a transaction that is rolled back (a write is
    executed by ANALYZE, and undone)."""
    conn = await asyncpg.connect(plain_url(url))
    out: list[dict[str, Any]] = []
    try:
        # at a size that fits one chunk every statement runs once: then those are the batch's
        for text, calls, params in log.batch_statements() or log.batch_statements(at_least=1):
            args = list(params) if isinstance(params, (list, tuple)) else []
            try:
                tx = conn.transaction()
                await tx.start()
                try:
                    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {text}", *args)
                finally:
                    await tx.rollback()
                plan = "\n".join(r[0] for r in rows)
            except Exception as exc:  # a statement that cannot be explained is reported
                plan = f"(not explained: {type(exc).__name__}: {exc})"
            out.append({"statement": text, "calls": calls, "plan": plan})
    finally:
        await conn.close()
    return out


# --- the read models ---------------------------------------------------------------------------------


def _credit_bulk_rebuild() -> Any:
    try:
        module = importlib.import_module("services.credit.rebuild")
    except ModuleNotFoundError as exc:
        raise RuntimeError("services/credit/rebuild.py (credit's bulk rebuild) is not in this tree") from exc
    return module.rebuild


async def credit_bulk(
    stack: Stack,
    namespace: str,
    n: int,
    *,
    workers: int = 1,
    profile: Any = None,
    statements: StatementLog | None = None,
) -> dict[str, Any]:
    """``services/credit/rebuild.py`` into an empty, migrated credit database."""
    rebuild_credit = _credit_bulk_rebuild()
    settings = CreditSettings(environment="test", kafka_bootstrap_servers=stack.bootstrap, kafka_namespace=namespace)
    url = stack.fresh_db("credit", "p4")
    db = Database(url, pool_size=workers + 2)
    counter = StatementCounter(db)
    try:
        cpu0 = _cpu_with_children()
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        try:
            with statements.capturing() if statements is not None else contextlib.nullcontext():
                await rebuild_credit(db, settings, workers=workers)
        finally:
            if profile is not None:
                profile.disable()
        elapsed = time.perf_counter() - started
        cpu = _cpu_with_children() - cpu0
    finally:
        await db.dispose()
    claimed = await _count(url, "inbox")
    if claimed != n:
        raise RuntimeError(f"credit rebuild claimed {claimed} of {n} events")
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "statements_per_event": counter.statements / n,
        "commits_per_event": counter.commits / n,
        "workers": workers,
        "url": url,
    }


async def credit_replay(stack: Stack, namespace: str, n: int, *, profile: Any = None) -> dict[str, float]:
    """The live path: a fresh consumer group (``ConsumerRunner``, credit's handlers) into an empty
    database, until it has finished all ``n`` events."""
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


async def reporting_rebuild(
    stack: Stack,
    namespace: str,
    n: int,
    *,
    workers: int = 1,
    profile: Any = None,
    statements: StatementLog | None = None,
) -> dict[str, Any]:
    """``services/reporting/rebuild.py`` into an empty, migrated reporting database."""
    settings = ReportingSettings(environment="test", kafka_bootstrap_servers=stack.bootstrap, kafka_namespace=namespace)
    url = stack.fresh_db("reporting", "p4")
    db = Database(url, pool_size=workers + 1)
    counter = StatementCounter(db)
    rss0 = rss_mib()
    # workers only when asked for: the single-worker call is the one every version of rebuild takes
    options: dict[str, Any] = {"workers": workers} if workers != 1 else {}
    try:
        with RssSampler({"bench": os.getpid()}) as sampler:
            cpu0 = _cpu_with_children()
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            try:
                with statements.capturing() if statements is not None else contextlib.nullcontext():
                    result = await rebuild(db, settings, **options)
            finally:
                if profile is not None:
                    profile.disable()
            elapsed = time.perf_counter() - started
            cpu = _cpu_with_children() - cpu0
        if result.tree_size != n:
            raise RuntimeError(f"rebuild appended {result.tree_size} of {n}")
        return {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "peak_rss_growth_mib": sampler.peak["bench"] - rss0,
            "statements_per_event": counter.statements / n,
            "commits_per_event": counter.commits / n,
            "workers": workers,
            "url": url,
        }
    finally:
        await db.dispose()


# --- the fair limit: consume + decode + COPY the same rows ------------------------------------------

FAIR_CHUNK = 5_000  # events per transaction (the credit bulk rebuild's default chunk)
_INBOX_COLUMNS = ("consumer", "event_source", "event_id", "event_type")
_FAIR_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "credit": {
        "inbox": _INBOX_COLUMNS,
        "credit_subject": (
            "id", "subject_kind", "subject_id", "display_name", "district_code", "opened_at", "opened_by_event_id",
            "profile_at",
        ),
        "credit_standing": (
            "subject_kind", "subject_id", "policy_version", "score", "grade", "graded_at", "evaluated_at",
        ),
        "credit_grade_history": (
            "subject_kind", "subject_id", "policy_version", "grade", "previous_grade", "score", "graded_at", "reason",
        ),
        "credit_entry": (
            "id", "subject_kind", "subject_id", "rule_id", "source_key", "source_event_id", "source_event_type",
            "effective_from", "legal_basis", "detail_zh", "recorded_at",
        ),
        "outbox": ("event_id", "topic", "message_key", "event_type", "payload"),
    },
    "reporting": {
        "inbox": _INBOX_COLUMNS,
        "ledger_entry": (
            "index", "event_id", "event_source", "event_type", "subject", "event_time", "leaf", "leaf_hash",
        ),
        "ledger_node": ("level", "index", "hash"),
        "proj_institution": (
            "institution_id", "name", "district_code", "street_code", "identity_at", "last_submitted_at",
        ),
        "proj_institution_profile": (
            "event_id", "institution_id", "effective_at", "rank", "name", "operating_model", "district_code",
            "street_code", "total_slots", "puhui_slots", "class_count",
        ),
        "proj_filing_decision": ("event_id", "institution_id", "outcome", "decided_at"),
        "proj_annual_report": ("institution_id", "year", "submitted_at", "on_time"),
    },
}  # fmt: skip


class _FairRows:
    """The rows one read model's platform path leaves for the benchmark's filing events, derived
    as minimally as possible from each decoded event (see ``fair_limit``)."""

    def __init__(self, model: str, namespace: str) -> None:
        self.model = model
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _FAIR_COLUMNS[model]}
        self.credit_topic = qualified(namespace, CREDIT_EVENTS)
        self.index = 0  # the next ledger index
        self.frontier: list[tuple[int, bytes]] = []  # (level, hash) of the completed subtrees' peaks
        self.events = 0

    def add(self, event: DecodedEvent, value: bytes) -> None:
        envelope, data = event.envelope, event.data
        self.events += 1
        self.rows["inbox"].append((self.model, envelope.source, envelope.id, envelope.type))
        if self.model == "credit":
            self._credit(envelope, data)
        else:
            self._reporting(event, value)

    def _credit(self, envelope: CloudEvent, data: Any) -> None:
        rows = self.rows
        if isinstance(data, InstitutionSubmittedV1):
            iid = str(data.institution_id)
            at = envelope.time
            rows["credit_subject"].append(
                (uuid.uuid5(uuid.NAMESPACE_URL, iid), "institution", iid, data.name, data.district_code, at,
                 envelope.id, at)
            )  # fmt: skip
            rows["credit_standing"].append(("institution", iid, "v1", 100, "A", at, at))
            rows["credit_grade_history"].append(("institution", iid, "v1", "A", None, 100, at, "首次评价"))
            rows["outbox"].append(self._announcement(envelope, iid, "record.opened"))
        elif isinstance(data, AnnualReportSubmittedV1):
            iid = str(data.institution_id)
            rows["credit_entry"].append(
                (uuid.uuid5(uuid.NAMESPACE_URL, envelope.id), "institution", iid, "annual_report.on_time",
                 f"annual_report:{data.year}", envelope.id, envelope.type, data.submitted_at, None,
                 f"{data.year}年度报告按期报送", envelope.time)
            )  # fmt: skip
            rows["outbox"].append(self._announcement(envelope, iid, "institution.graded"))

    def _announcement(self, envelope: CloudEvent, subject: str, kind: str) -> tuple[Any, ...]:
        event_type = f"cn.gov.gz.childcare.credit.{kind}.v1"
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{envelope.id}/{kind}"))
        payload = {
            "data": {"cause_event_id": envelope.id, "institution_id": subject, "grade": "A", "score": 100.0},
            "id": event_id,
            "source": "/services/credit",
            "specversion": "1.0",
            "subject": subject,
            "time": envelope.time.isoformat(),
            "type": event_type,
        }
        return (event_id, self.credit_topic, subject, event_type, json.dumps(payload, ensure_ascii=False))

    def _reporting(self, event: DecodedEvent, leaf: bytes) -> None:
        envelope, data, rows = event.envelope, event.data, self.rows
        leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
        index = self.index
        self.index += 1
        rows["ledger_entry"].append(
            (index, envelope.id, envelope.source, envelope.type, envelope.subject or "", envelope.time, leaf, leaf_hash)
        )
        # the completed subtrees this leaf closes (RFC 6962 interior nodes), as the ledger stores them
        level, node = 0, leaf_hash
        while self.frontier and self.frontier[-1][0] == level:
            _, left = self.frontier.pop()
            node = hashlib.sha256(b"\x01" + left + node).digest()
            level += 1
            rows["ledger_node"].append((level, index >> level, node))
        self.frontier.append((level, node))
        if isinstance(data, InstitutionSubmittedV1):
            iid, at, p = data.institution_id, data.submitted_at, data.profile
            rows["proj_institution"].append((iid, data.name, data.district_code, data.street_code, at, at))
            if p is not None:
                rows["proj_institution_profile"].append(
                    (envelope.id, iid, at, 0, p.name, p.operating_model, p.district_code, p.street_code,
                     p.total_slots, p.puhui_slots, len(p.classes))
                )  # fmt: skip
        elif isinstance(data, InstitutionFiledV1):
            iid, at, p = data.institution_id, data.decided_at, data.profile
            rows["proj_institution_profile"].append(
                (envelope.id, iid, at, 1, p.name, p.operating_model, p.district_code, p.street_code, p.total_slots,
                 p.puhui_slots, len(p.classes))
            )  # fmt: skip
            rows["proj_filing_decision"].append((envelope.id, iid, "filed", at))
        elif isinstance(data, AnnualReportSubmittedV1):
            rows["proj_annual_report"].append((data.institution_id, data.year, data.submitted_at, data.on_time))

    async def flush(self, conn: asyncpg.Connection) -> int:
        """COPY the rows gathered so far in one transaction (and, for the ledger, the head's size);
        returns the rows written."""
        written = 0
        async with conn.transaction():
            for table, records in self.rows.items():
                if records:
                    await conn.copy_records_to_table(table, records=records, columns=_FAIR_COLUMNS[self.model][table])
                    written += len(records)
                    records.clear()
            if self.model == "reporting":
                peaks = b"".join(node for _, node in self.frontier)
                await conn.execute("UPDATE ledger_head SET size = $1, peaks = $2 WHERE id = 1", self.index, peaks)
        return written


async def fair_limit(stack: Stack, namespace: str, n: int, model: str) -> dict[str, float]:
    """The fair limit of a replay into ``model`` (credit or reporting): one aiokafka consumer reads
    the topics that model's rebuild reads (domain topics; reporting also the ledger topic), decodes
    every record with the shared decoder (``shared.events.decode``: JSON + CloudEvent + payload
    validation, the ledger topic's records included), and COPYs the rows the platform leaves for
    these events into the same tables of a fresh migrated database of that service — one
    transaction per ``FAIR_CHUNK`` events. It computes nothing the platform computes: no inbox
    claim (every event is taken as new), no upsert, fold or update of an earlier row, no score or
    grade (constants), no JCS leaf or field salts (the leaf is the record's bytes), no read-back;
    the Merkle interior nodes are hashed (SHA-256, one per node) because their rows are written."""
    url = stack.fresh_db(model, "fair")
    topics = list(DOMAIN_TOPICS) if model == "credit" else [*DOMAIN_TOPICS, LEDGER_CHANGES]
    consumer = AIOKafkaConsumer(
        **stack.kafka.access().aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    conn = await asyncpg.connect(plain_url(url))
    rows = _FairRows(model, namespace)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(qualified(namespace, t), p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(qualified(namespace, t)) or ())
        ]
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        total, seen, written = sum(end.values()), 0, 0
        ledger_topic = qualified(namespace, LEDGER_CHANGES)
        while seen < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in batch.items():
                seen += len(records)
                for record in records:
                    decoded = decode(record.value)
                    if tp.topic != ledger_topic:
                        rows.add(decoded, record.value)
            if rows.events >= FAIR_CHUNK or seen >= total:
                written += await rows.flush(conn)
                rows.events = 0
        result = {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu0, "rows": written}
    finally:
        await consumer.stop()
        await conn.close()
    claimed = await _count(url, "inbox")
    if claimed != n:
        raise RuntimeError(f"fair limit wrote {claimed} inbox rows for {n} events")
    return result | {"rows_per_event": written / n, "records": seen}


# --- one size: dataset, baselines, read models -------------------------------------------------------

# The most a part may take per event before it counts as hung (the live credit replay ran at about
# 0.5 ms per event on this machine; a bulk path or a baseline far less).
PART_SECONDS_PER_EVENT = 0.003


async def _median_of(
    runs: int, run: Callable[[StatementLog | None], Awaitable[dict[str, Any]]], *, explain: bool
) -> dict[str, Any]:
    """``runs`` runs, the median by wall time (with every run's seconds and CPU), and EXPLAIN of the
    batch statements against the database the last run produced."""
    results: list[dict[str, Any]] = []
    statements: StatementLog | None = None
    for i in range(runs):
        statements = StatementLog() if explain and i == runs - 1 else None
        results.append(await run(statements))
    median = dict(sorted(results, key=lambda r: r["seconds"])[len(results) // 2])
    median["runs_seconds"] = [r["seconds"] for r in results]
    median["runs_cpu_seconds"] = [r["cpu_seconds"] for r in results]
    if statements is not None:
        median["explain"] = await explain_statements(results[-1]["url"], statements)
    for r in (median, *results):
        r.pop("url", None)
    return median


async def replay(
    stack: Stack, n: int, *, runs: int = 1, parallel: bool = False, live_credit: bool = False, explain: bool = False
) -> dict[str, Any]:
    """Everything P4 and P6 measure at one size, one thing after the other (each read model is its
    own service process with its own core in production; side by side in this one process they
    would share one core and each one's time would measure the other's load too). A part that fails
    is named in ``errors``; the others still run."""
    produce_started = time.perf_counter()
    namespace = await produce_dataset(stack, n)
    out: dict[str, Any] = {"n": n, "produce_seconds": time.perf_counter() - produce_started, "errors": []}
    out["namespace"] = namespace

    async def part(key: str, coro: Awaitable[Any], runs: int = 1) -> None:
        started = time.perf_counter()
        log.warning("  replay of %s: %s …", f"{n:,}", key)
        try:
            # a part that hangs (a worker process that never finishes) must not hold the whole run
            out[key] = await asyncio.wait_for(coro, timeout=runs * (300 + n * PART_SECONDS_PER_EVENT))
        except Exception as exc:  # one failing part must not lose the others' figures
            log.exception("replay of %s: %s failed", n, key)
            out["errors"].append(f"{key} at {n:,}: {type(exc).__name__}: {exc}")
        out.setdefault("part_seconds", {})[key] = time.perf_counter() - started

    await part("bare_domain", bare_consume(stack, namespace, list(DOMAIN_TOPICS)))
    await part("bare_with_ledger", bare_consume(stack, namespace, [*DOMAIN_TOPICS, LEDGER_CHANGES]))
    await part("fair_credit", fair_limit(stack, namespace, n, "credit"))
    await part("fair_reporting", fair_limit(stack, namespace, n, "reporting"))
    if live_credit:
        # before the bulk runs: the bulk rebuild commits the end offsets as credit's group, and a
        # live consumer group started after it would have nothing left to read
        await part("credit_live", credit_replay(stack, namespace, n))
    await part(
        "credit",
        _median_of(runs, lambda s: credit_bulk(stack, namespace, n, statements=s), explain=explain),
        runs,
    )
    await part(
        "reporting",
        _median_of(runs, lambda s: reporting_rebuild(stack, namespace, n, statements=s), explain=explain),
        runs,
    )
    if parallel:
        await part("credit_workers2", credit_bulk(stack, namespace, n, workers=2))
        await part("reporting_workers2", reporting_rebuild(stack, namespace, n, workers=2))
        for key in ("credit_workers2", "reporting_workers2"):
            if key in out:
                out[key].pop("url", None)
    return out
