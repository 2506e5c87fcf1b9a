"""The alert rules against a running platform: a real Prometheus (Debian's binary) scrapes the four
service processes and the lag exporter, with a copy of deploy/prometheus/rules whose only change is
shorter ``for:`` durations; faults are injected one after another, and for each the alert that must
fire does fire, and no other alert starts firing.

* a handler hung: reporting's inbox table locked by another session while an event arrives for it
  (the service's own lag gauge does not move then) → ``ConsumerStalled`` for reporting;
* a poison flood: 600 undecodable records on the filing topic → ``DeadLettersPresent`` for each of
  its three consumers, and no ``ConsumerStalled`` while they dead-letter them;
* the database hung: filing's PostgreSQL backends stopped (SIGSTOP) and new connections refused,
  while users keep asking for the institution list → ``HighErrorRatio`` for filing (503s);
* the broker down → ``KafkaUnavailable`` (the lag exporter cannot read the groups' offsets);
* a service stopped: reporting terminated, then 1001 events it alone handles arrive →
  ``ServiceDown`` for reporting, and ``ConsumerLagHigh`` for its group from the broker's view.

An alert already firing when a fault starts (``DeadLettersPresent`` keeps firing for 15 minutes,
``HighErrorRatio`` while its 5-minute window holds the errors) is not counted again. The table
(fault → alert → seconds after the fault; the alerts that stayed quiet) is printed (``pytest -s``)
and written to .local/artifacts/alerts.md; docs/operations.md quotes a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from devstack.faults import ServiceProcess, service_env
from devstack.kafka import LocalKafka, free_port
from devstack.monitoring import LocalPrometheus, local_prometheus_config, start_lag_exporter, stop_process
from devstack.postgres import SERVICES, LocalPostgres
from shared.events.inspection import ComplaintReceivedV1
from shared.outbox import Outbox
from shared.reference import districts
from shared.topics import FILING_EVENTS, INSPECTION_EVENTS
from tests.ops.test_metric_conventions import dashboard_expressions
from tests.support import produce_raw, token

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
ARTIFACT = ROOT / ".local" / "artifacts" / "alerts.md"
# The test's copy of the rules: every `for:` this long (the expressions are unchanged).
SHORT_FOR = "3s"
OFFICER = token("filing_officer", subject="alert-officer", districts=sorted(districts()))
POISON_RECORDS = 600  # under ConsumerLagHigh's 1000 per group: the flood alone must not look like lag
LAG_RECORDS = 1001  # just over ConsumerLagHigh's threshold


@dataclass(frozen=True)
class Expect:
    alertname: str
    labels: dict[str, str] = field(default_factory=dict)

    def matches(self, alert: dict[str, Any]) -> bool:
        labels = alert["labels"]
        return labels["alertname"] == self.alertname and all(labels.get(k) == v for k, v in self.labels.items())

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        return f"{self.alertname}{{{inner}}}" if inner else self.alertname


@dataclass
class Outcome:
    fault: str
    expected: list[Expect]
    fired: dict[str, float] = field(default_factory=dict)  # str(Expect) -> seconds after the fault
    others: dict[str, float] = field(default_factory=dict)  # any other alert that started firing
    note: str = ""


def alert_key(alert: dict[str, Any]) -> str:
    labels = {k: v for k, v in alert["labels"].items() if k not in ("severity", "team")}
    name = labels.pop("alertname")
    return f"{name}{{{', '.join(f'{k}={v}' for k, v in sorted(labels.items()))}}}"


def rule_alert_names() -> list[str]:
    names = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names += [r["alert"] for r in group["rules"] if "alert" in r]
    return sorted(set(names))


def shortened_rules(into: Path) -> list[str]:
    """A copy of every rule file with each `for:` set to SHORT_FOR; nothing else changes."""
    into.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in sorted(RULES.glob("*.yml")):
        content = yaml.safe_load(path.read_text())
        for group in content["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = SHORT_FOR
        copy = into / path.name
        copy.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
        copies.append(str(copy))
    return copies


def complaint_records(count: int) -> list[tuple[bytes | None, bytes]]:
    """Valid inspection events that only reporting handles (filing and credit skip them)."""
    outbox = Outbox(source="/services/inspection")
    records: list[tuple[bytes | None, bytes]] = []
    for _ in range(count):
        complaint = uuid.uuid4()
        data = ComplaintReceivedV1(
            complaint_id=complaint,
            about="address",
            district_code="440106",
            street_code="440106001",
            category="other",
            anonymous=True,
            received_at=datetime.now(UTC),
        )
        envelope = outbox.envelope(data, subject=str(complaint))
        records.append((str(complaint).encode(), envelope.to_json().encode()))
    return records


@dataclass
class Stage:
    kafka: LocalKafka
    pg: LocalPostgres
    namespace: str
    databases: dict[str, str]
    processes: dict[str, ServiceProcess]
    prometheus: LocalPrometheus

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"

    async def query(self, expr: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.prometheus.query, expr)

    async def value(self, expr: str) -> float | None:
        result = await self.query(expr)
        return float(result[0]["value"][1]) if result else None

    async def firing(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.prometheus.firing)

    async def until(self, check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within:.0f}s: {what}")
            await asyncio.sleep(0.25)

    async def watch(
        self,
        outcome: Outcome,
        started: float,
        *,
        within: float,
        settle: float = 3.0,
        also: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Poll the firing alerts from the fault on: every expected one must fire within ``within``
        seconds; the watch goes on ``settle`` seconds after the last (and until ``also`` holds), so
        an unexpected alert that follows has the chance to show."""
        before = {alert_key(a) for a in await self.firing()}
        done_at: float | None = None
        while True:
            now = time.monotonic()
            for alert in await self.firing():
                key = alert_key(alert)
                matched = [e for e in outcome.expected if e.matches(alert)]
                for expect in matched:
                    outcome.fired.setdefault(str(expect), round(now - started, 1))
                if not matched and key not in before:
                    outcome.others.setdefault(key, round(now - started, 1))
            if len(outcome.fired) == len(outcome.expected) and (also is None or await also()):
                done_at = done_at or now
                if now - done_at >= settle:
                    return
            if now - started > within:
                return
            await asyncio.sleep(0.25)


async def panels_without_a_number(s: Stage) -> list[str]:
    empty = []
    for where, expr in dashboard_expressions():
        if expr.startswith("label_values("):  # a template variable's query, not PromQL
            continue
        promql = expr.replace("$__rate_interval", "1m").replace('=~"$job"', '=~".+"')
        values = [float(r["value"][1]) for r in await s.query(promql)]
        if not values or any(math.isnan(v) for v in values):
            empty.append(f"{where}: {values or 'no data'}")
    return empty


def _database(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


@pytest.fixture
async def stage(kafka: LocalKafka, pg: LocalPostgres, namespace: str, tmp_path: Path) -> AsyncIterator[Stage]:
    databases = {s: f"alerts_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
    urls = {s: pg.create_service_database(databases[s], s, template=f"tpl_{s}") for s in SERVICES}
    # bounded answers from a hung database (shared/settings.py): a few seconds, not the defaults' 40
    bounded = {"DB_COMMAND_TIMEOUT_SECONDS": "2", "DB_POOL_TIMEOUT_SECONDS": "2", "DB_CONNECT_TIMEOUT_SECONDS": "2"}
    processes = {
        s: ServiceProcess(
            s,
            port=free_port(),
            env=service_env(
                s,
                database_url=urls[s],
                bootstrap=kafka.bootstrap,
                namespace=namespace,
                extra={f"{s.upper()}_{k}": v for k, v in bounded.items()},
            ),
            log_dir=tmp_path / "logs",
        )
        for s in SERVICES
    }
    exporter_port = free_port()
    exporter = None
    prometheus = None
    try:
        for process in processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in processes.values()))
        exporter = start_lag_exporter(
            kafka.bootstrap,
            exporter_port,
            tmp_path / "logs" / "lag-exporter.log",
            namespace=namespace,
            interval_seconds=1,
        )
        config = local_prometheus_config(
            {s: p.port for s, p in processes.items()},
            exporter_port,
            rule_files=shortened_rules(tmp_path / "rules"),
            scrape_interval="1s",
            evaluation_interval="1s",
        )
        prometheus = LocalPrometheus(tmp_path / "prometheus", free_port(), config)
        await asyncio.to_thread(prometheus.start)
        yield Stage(kafka, pg, namespace, databases, processes, prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        stop_process(exporter)
        for process in processes.values():
            process.terminate()
        for name in databases.values():
            pg.drop_database(name)


async def test_each_fault_fires_its_alert_and_no_other(stage: Stage) -> None:
    s = stage
    # The platform idle and fully scraped: every target up, the broker readable, nothing firing.
    targets = 5  # four services and the lag exporter

    async def settled() -> bool:
        up = await s.query("up == 1")
        return len(up) == targets and await s.value("childcare_kafka_up") == 1 and not await s.firing()

    await s.until(settled, within=60, what="all targets up and no alert firing on the idle platform")

    # Every Grafana panel's query has a number to show on the idle platform (0, not "No data" or NaN),
    # as Grafana would send it: every service selected, a one-minute rate interval.
    async def dashboards_show_numbers() -> bool:
        return not await panels_without_a_number(s)

    with contextlib.suppress(AssertionError):  # a rate needs two scrapes: give it a few seconds
        await s.until(dashboards_show_numbers, within=15, what="numbers on every panel")
    assert await panels_without_a_number(s) == []

    outcomes: list[Outcome] = []

    # --- 1. a handler hung ----------------------------------------------------------------------
    hung = Outcome(
        "handler hung (reporting's inbox locked, one event arrives)",
        [Expect("ConsumerStalled", {"consumer": "reporting"})],
    )
    holder = await asyncpg.connect(s.pg.url(s.databases["reporting"]))
    transaction = holder.transaction()
    await transaction.start()
    try:
        await holder.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        await produce_raw(s.kafka.bootstrap, s.topic(INSPECTION_EVENTS), complaint_records(1))
        await s.watch(hung, started, within=60)
        own_lag = await s.value(f'sum(childcare_consumer_lag{{job="reporting", topic="{s.topic(INSPECTION_EVENTS)}"}})')
        hung.note = f"reporting's own lag gauge meanwhile: {own_lag:g}" if own_lag is not None else ""
    finally:
        await transaction.rollback()
        await holder.close()
    outcomes.append(hung)

    async def unstuck() -> bool:
        return await s.value("max(childcare_consumer_batch_in_flight_seconds)") == 0 and not any(
            a["labels"]["alertname"] == "ConsumerStalled" for a in await s.firing()
        )

    await s.until(unstuck, within=60, what="reporting's batch finished after the lock was released")

    # --- 2. a poison flood ----------------------------------------------------------------------
    consumers_of_filing = ("inspection", "credit", "reporting")
    flood = Outcome(
        f"poison flood ({POISON_RECORDS} undecodable records on the filing topic)",
        [Expect("DeadLettersPresent", {"job": job}) for job in consumers_of_filing],
    )
    records: list[tuple[bytes | None, bytes]] = [
        (f"poison-{n}".encode(), b"\xff\xfe not UTF-8 JSON") for n in range(POISON_RECORDS)
    ]
    started, flood_began = time.monotonic(), time.time()
    await produce_raw(s.kafka.bootstrap, s.topic(FILING_EVENTS), records)

    async def all_dead_lettered() -> bool:
        counts = await s.query("sum by (job) (childcare_dead_letter_events_total)")
        done = {r["metric"]["job"]: float(r["value"][1]) for r in counts}
        return all(done.get(job, 0) >= POISON_RECORDS for job in consumers_of_filing)

    await s.watch(flood, started, within=120, also=all_dead_lettered)
    flood.note = f"all {POISON_RECORDS} dead-lettered by each consumer after {time.monotonic() - started:.0f}s"
    # dead-lettering is progress: each consumer's last-processed time moved past the flood's start
    progress = await s.query("max by (consumer) (childcare_consumer_last_processed_timestamp_seconds)")
    last_processed = {r["metric"]["consumer"]: float(r["value"][1]) for r in progress}
    assert all(last_processed.get(c, 0) > flood_began for c in consumers_of_filing), last_processed
    outcomes.append(flood)

    # --- 3. the database hung -------------------------------------------------------------------
    database = s.databases["filing"]
    db_hung = Outcome(
        "database hung (filing's PostgreSQL backends SIGSTOPped)", [Expect("HighErrorRatio", {"job": "filing"})]
    )
    pids = [
        int(p)
        for p in s.pg.sql(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid();"
        ).split()
        if p.isdigit()
    ]
    assert pids, "filing holds connections to its database"
    answers: list[tuple[int, float]] = []
    stop_asking = asyncio.Event()

    async def users_keep_asking() -> None:
        async with httpx.AsyncClient(base_url=s.processes["filing"].url, timeout=30) as client:
            while not stop_asking.is_set():
                asked = time.monotonic()
                response = await client.get("/v1/institutions", headers=OFFICER)
                answers.append((response.status_code, time.monotonic() - asked))
                await asyncio.sleep(0.2)

    # the postmaster too, so a new connection hangs as it would on a hung server (the session's other
    # databases keep the backends they have; nothing else of this test opens one meanwhile)
    postmaster = int((s.pg.pgdata / "postmaster.pid").read_text().split()[0])
    stopped: list[int] = []
    asking = asyncio.create_task(users_keep_asking())
    try:
        for pid in [postmaster, *pids]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        started = time.monotonic()
        await s.watch(db_hung, started, within=60)
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        stop_asking.set()
        await asking
    failed = [seconds for status, seconds in answers if status == 503]
    statuses = Counter(status for status, _ in answers)
    db_hung.note = f"answers {dict(sorted(statuses.items()))}, a 503 after {max(failed, default=0):.1f}s at most"
    assert failed, "the hung database made requests fail"
    outcomes.append(db_hung)

    async def filing_answers() -> bool:
        async with httpx.AsyncClient(base_url=s.processes["filing"].url, timeout=10) as client:
            return (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200

    await s.until(filing_answers, within=60, what="filing answers again once its database is back")

    # --- 4. the broker down ---------------------------------------------------------------------
    broker = Outcome("broker down", [Expect("KafkaUnavailable")])
    started = time.monotonic()
    await asyncio.to_thread(s.kafka.stop)
    try:
        await s.watch(broker, started, within=60)
    finally:
        await asyncio.to_thread(s.kafka.start)
    outcomes.append(broker)

    async def broker_back() -> bool:
        polled = await s.value("time() - min(childcare_consumer_last_poll_timestamp_seconds)")
        return (
            await s.value("childcare_kafka_up") == 1
            and polled is not None
            and polled < 5
            and not any(a["labels"]["alertname"] == "KafkaUnavailable" for a in await s.firing())
        )

    await s.until(broker_back, within=90, what="the broker readable again and every consumer polling")

    # --- 5. a service stopped -------------------------------------------------------------------
    down = Outcome(
        f"service stopped (reporting terminated; {LAG_RECORDS} events for it arrive)",
        [Expect("ServiceDown", {"job": "reporting"}), Expect("ConsumerLagHigh", {"consumer": "reporting"})],
    )
    started = time.monotonic()
    await asyncio.to_thread(s.processes["reporting"].terminate)
    await produce_raw(s.kafka.bootstrap, s.topic(INSPECTION_EVENTS), complaint_records(LAG_RECORDS))
    await s.watch(down, started, within=60)
    lag = await s.value('sum(childcare_kafka_consumergroup_lag{consumer="reporting"})')
    down.note = f"the broker's view of reporting's lag: {lag:g}" if lag is not None else ""
    outcomes.append(down)

    # --- the table --------------------------------------------------------------------------------
    names = rule_alert_names()
    lines = [
        "| fault | alert that must fire → seconds after the fault | other alerts that started firing | quiet |",
        "| --- | --- | --- | --- |",
    ]
    for o in outcomes:
        fired_names = {str(e).split("{")[0] for e in o.expected if str(e) in o.fired} | {
            k.split("{")[0] for k in o.others
        }
        fired = "<br>".join(f"`{e}` → {o.fired.get(str(e), 'not fired')}" for e in o.expected)
        others = ", ".join(f"`{k}` {v}" for k, v in o.others.items()) or "none"
        quiet = ", ".join(n for n in names if n not in fired_names)
        lines.append(f"| {o.fault}{'; ' + o.note if o.note else ''} | {fired} | {others} | {quiet} |")
    table = "\n".join(lines)
    print(f"\nalerts with for: {SHORT_FOR}, scrape and evaluation every 1s\n{table}")  # noqa: T201 - pytest -s
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(table + "\n" + json.dumps([o.__dict__ for o in outcomes], default=str, indent=2) + "\n")

    for o in outcomes:
        assert set(o.fired) == {str(e) for e in o.expected}, f"{o.fault}: fired {o.fired}, expected {o.expected}"
        assert o.others == {}, f"{o.fault}: other alerts started firing: {o.others}"
