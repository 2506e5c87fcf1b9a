"""Nothing lost, nothing doubled: the outbox, the inbox and the dead-letter topic against the real
Kafka broker and real PostgreSQL. Each test has its own topics (namespace) and its own databases."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client.parser import text_string_to_metric_families

from devstack.kafka import LocalKafka
from services.filing.institutions import repository as filing_repository
from services.filing.institutions import service as filing_service
from services.filing.institutions.schemas import InstitutionCreate
from services.reporting.consumers import consumers as reporting_consumers
from shared.app import ServiceContext
from shared.auth import Principal
from shared.consumer import ConsumerRunner
from shared.db import Database
from shared.events import CloudEvent, DecodedEvent
from shared.events.catalogue import CATALOGUE
from shared.events.filing import InstitutionSubmittedV1
from shared.identifiers import uscc_check_char
from shared.kafka import make_producer
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay, RelayCrashed
from shared.reference import districts
from shared.topics import FILING_EVENTS
from shared.workdays import WorkdayCalendar
from tests.filing.support import filing_body, upload_documents
from tests.support import Platform, admin_access, eventually, produce_raw, read_topic, settings_for, token

OFFICER = token("filing_officer", districts=sorted(districts()))
READER = token("ops", "credit_officer", "agency:market_regulation")
SERVICES_UNDER_TEST = ("filing", "credit", "reporting")


def new_uscc() -> str:
    body = "91440106MA" + "".join(str(b % 10) for b in uuid.uuid4().bytes[:7])
    return body + uscc_check_char(body)


# Keyed by the platform object itself (weakly): id() is reused once an earlier platform is
# collected, and its cached hashes would then name documents in another test's database.
_documents: weakref.WeakKeyDictionary[Platform, dict[str, str]] = weakref.WeakKeyDictionary()


async def institution_body(p: Platform, name: str = "越秀区阳光托育中心") -> dict[str, Any]:
    if p not in _documents:  # the materials are uploaded once per platform (content-addressed)
        _documents[p] = await upload_documents(p.clients["filing"], OFFICER)
    return filing_body(_documents[p], uscc=new_uscc(), name=name, district="越秀区", street_code="440104001")


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    urls = {s: fresh_db(s) for s in (*SERVICES_UNDER_TEST, "inspection")}
    async with Platform(kafka.bootstrap, namespace, urls) as p:
        yield p


async def ledger_subjects(p: Platform) -> list[str]:
    page = (await p.clients["reporting"].get("/v1/ledger?after=-1&limit=1000", headers=READER)).json()
    return [e["subject"] for e in page["entries"]]


async def post_institution(p: Platform, body: dict[str, Any] | None = None) -> str:
    body = body or await institution_body(p)
    response = await p.clients["filing"].post("/v1/institutions", json=body, headers=OFFICER)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def standalone_context(service: str, url_db: Database, namespace: str) -> ServiceContext:
    settings = settings_for(service, kafka_namespace=namespace)
    return ServiceContext(
        settings=settings,
        db=url_db,
        outbox=Outbox(source=settings.source, namespace=namespace),
        metrics=Metrics(service),
    )


def runner_from(ctx: ServiceContext, spec_factory: Any, bootstrap: str) -> ConsumerRunner:
    spec = spec_factory(ctx)[0]
    return ConsumerRunner(
        name=spec.name,
        db=ctx.db,
        metrics=ctx.metrics,
        kafka=admin_access(bootstrap),
        topics=spec.topics,
        handlers=spec.handlers,
        namespace=ctx.settings.kafka_namespace,
        retry_backoff=0.01,
        session_timeout_ms=6000,
    )


def counter(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# --- the vertical slice ------------------------------------------------------------------------


async def test_filed_institution_reaches_credit_and_ledger_as_cloudevents(platform: Platform) -> None:
    p = platform
    institution_id = await post_institution(p)

    async def visible() -> bool:
        credit = await p.clients["credit"].get(f"/v1/credit/institutions/{institution_id}", headers=READER)
        return credit.status_code == 200 and (await ledger_subjects(p)).count(institution_id) == 2

    await eventually(visible, within=20)

    page = (await p.clients["reporting"].get("/v1/ledger?after=-1", headers=READER)).json()
    types = [e["event_type"] for e in page["entries"] if e["subject"] == institution_id]
    # Two topics: the ledger holds them in the order the reporting consumer read them, which Kafka
    # does not tie to the order they were produced in (a fetch may bring both at once).
    assert sorted(types) == [
        "cn.gov.gz.childcare.credit.record.opened.v1",
        "cn.gov.gz.childcare.filing.institution.submitted.v1",
    ]
    assert [e["index"] for e in page["entries"]] == list(range(len(page["entries"])))
    assert page["tree_size"] == len(page["entries"])
    after = (await p.clients["reporting"].get(f"/v1/ledger?after={page['next_cursor']}", headers=READER)).json()
    assert after["entries"] == []

    # Every record on every topic of this run is a valid CloudEvents 1.0 structured-mode event.
    await eventually(lambda: _ledger_topic_has(p, 2), within=10)
    seen = 0
    for name in ("childcare.filing.events", "childcare.credit.events", "childcare.ledger.changes"):
        for record in await read_topic(p.bootstrap, p.topic(name)):
            assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
            raw = json.loads(record.value)
            assert raw["specversion"] == "1.0"
            for attribute in ("id", "source", "type", "time", "subject", "datacontenttype", "data"):
                assert raw[attribute], attribute
            assert raw["time"].endswith("Z")
            datetime.fromisoformat(raw["time"])
            assert raw["type"].startswith("cn.gov.gz.childcare.")
            assert re.fullmatch(r"cn\.gov\.gz\.childcare(\.[a-z_]+)+\.v[1-9][0-9]*", raw["type"]), raw["type"]
            assert raw["type"] in CATALOGUE, "a type of the catalogue (the ledger topic's is entry_shared.v2)"
            assert record.key.decode() == raw["subject"], "the Kafka key is the aggregate id"
            CloudEvent.model_validate(raw)
            seen += 1
    assert seen == 4  # submitted, credit opened, and two ledger-appended events


async def _ledger_topic_has(p: Platform, n: int) -> bool:
    return len(await read_topic(p.bootstrap, p.topic("childcare.ledger.changes"))) >= n


async def test_metrics_and_health_endpoints(platform: Platform) -> None:
    p = platform
    institution_id = await post_institution(p)
    await eventually(lambda: _in_ledger(p, institution_id), within=20)

    for service in (*SERVICES_UNDER_TEST, "inspection"):
        client = p.clients[service]
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "topics": "ok"}
        response = await client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        for name in (
            "childcare_http_requests",
            "childcare_http_request_duration_seconds",
            "childcare_events_published",
            "childcare_events_consumed",
            "childcare_outbox_pending",
            "childcare_outbox_oldest_pending_age_seconds",
            "childcare_consumer_lag",
            "childcare_dead_letter_events",
            "childcare_consumer_last_processed_timestamp_seconds",
            "process_cpu_seconds",
        ):
            assert name in families, f"{service}: {name} missing"

    filing_metrics = (await p.clients["filing"].get("/metrics")).text
    assert (
        'childcare_http_requests_total{method="POST",route="/v1/institutions",status_code="201"} 1.0' in filing_metrics
    )
    assert 'childcare_events_published_total{type="cn.gov.gz.childcare.filing.institution.submitted.v1"}' in (
        filing_metrics
    )
    reporting_metrics = (await p.clients["reporting"].get("/metrics")).text
    assert 'outcome="applied"' in reporting_metrics
    assert institution_id not in filing_metrics + reporting_metrics, "no ids in labels"
    lag = [
        s
        for f in text_string_to_metric_families(reporting_metrics)
        if f.name == "childcare_consumer_lag"
        for s in f.samples
    ]
    assert lag
    assert all(s.labels["consumer"] == "reporting" for s in lag)


async def _in_ledger(p: Platform, subject: str) -> bool:
    return subject in await ledger_subjects(p)


# --- (a) a request that fails after its DB write publishes nothing ------------------------------


async def test_request_failing_after_its_write_publishes_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = platform
    real_submit = filing_service.submit

    async def submit_then_fail(*args: Any, **kwargs: Any) -> Any:
        await real_submit(*args, **kwargs)  # institution row and outbox row are written …
        raise RuntimeError("simulated failure after the write")  # … and the request still fails

    monkeypatch.setattr(filing_service, "submit", submit_then_fail)
    doomed = await institution_body(p, "注定失败托育园")
    failed = await p.clients["filing"].post("/v1/institutions", json=doomed, headers=OFFICER)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"
    monkeypatch.setattr(filing_service, "submit", real_submit)

    # A later request goes through; once it has reached the ledger, anything published before it
    # would have too.
    sentinel = await post_institution(p)
    await eventually(lambda: _in_ledger(p, sentinel), within=20)

    on_the_wire = [json.loads(r.value) for r in await read_topic(p.bootstrap, p.topic(FILING_EVENTS))]
    assert [e["data"]["uscc"] for e in on_the_wire] == [
        e["data"]["uscc"] for e in on_the_wire if e["subject"] == sentinel
    ]
    assert doomed["uscc"] not in {e["data"]["uscc"] for e in on_the_wire}
    assert await p.scalar("filing", "SELECT count(*) FROM institution WHERE uscc = :u", u=doomed["uscc"]) == 0
    assert await p.scalar("filing", "SELECT count(*) FROM outbox") == 1


# --- (b) relay dies after publishing, before marking: republished, applied once ---------------


async def test_relay_crash_between_publish_and_mark_republishes_and_consumers_apply_once(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    filing_db = Database(fresh_db("filing"), pool_size=2)
    credit_url, reporting_url = fresh_db("credit"), fresh_db("reporting")
    outbox = Outbox(source="/services/filing", namespace=namespace)
    async with filing_db.transaction() as session:
        documents = {}
        for kind in ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"):
            content = b"%PDF-1.7\n" + kind.encode() + b"\n%%EOF\n"
            documents[kind] = hashlib.sha256(content).hexdigest()
            await filing_repository.store_document(
                session, sha256=documents[kind], media_type="application/pdf", content=content, uploaded_by="t"
            )
        body = filing_body(
            documents, uscc=new_uscc(), name="海珠区童心托育", district="440105", street_code="440105001"
        )
        body["classes"] = [dict(c) for c in body["classes"]]
        view = await filing_service.submit(
            session,
            outbox,
            filing_service.FilingRules(calendar=WorkdayCalendar()),
            InstitutionCreate.model_validate(body),
            officer=Principal(subject="officer", roles=frozenset({"filing_officer"}), districts=("440105",)),
        )
    institution_id = str(view.id)

    class CrashingRelay(OutboxRelay):
        async def mark_published(self, session: Any, ids: list[int]) -> None:
            raise RelayCrashed("process died before marking the rows published")

    crashing = CrashingRelay(
        filing_db, lambda: make_producer(kafka.access("filing"), client_id="crash"), Metrics("filing"), service="filing"
    )
    with pytest.raises(RelayCrashed):
        await crashing.publish_batch()
    await crashing.stop()
    assert await _scalar(filing_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
    assert len(await read_topic(kafka.bootstrap, f"{namespace}{FILING_EVENTS}")) == 1, "it did reach Kafka"

    # The restarted service's relay publishes the row again and marks it.
    async with Platform(kafka.bootstrap, namespace, {"credit": credit_url, "reporting": reporting_url}) as p:
        relay = OutboxRelay(
            filing_db,
            lambda: make_producer(kafka.access("filing"), client_id="ok"),
            Metrics("filing"),
            service="filing",
        )
        assert await relay.publish_batch() == 1
        await relay.stop()
        records = await read_topic(kafka.bootstrap, f"{namespace}{FILING_EVENTS}")
        assert len(records) == 2
        assert records[0].value == records[1].value, "the same event, twice on the wire"

        credit_metrics: Metrics = p.apps["credit"].state.metrics

        async def both_copies_consumed() -> bool:
            return (
                counter(credit_metrics, "childcare_events_consumed_total", outcome="applied")
                + counter(credit_metrics, "childcare_events_consumed_total", outcome="duplicate")
                >= 2
            )

        await eventually(both_copies_consumed, within=20)
        await eventually(lambda: _in_ledger(p, institution_id), within=20)
        await asyncio.sleep(0.5)
        assert (
            await p.scalar("credit", "SELECT count(*) FROM credit_subject WHERE subject_id = :i", i=institution_id) == 1
        )
        submitted = "cn.gov.gz.childcare.filing.institution.submitted.v1"
        assert (
            await p.scalar(
                "reporting",
                "SELECT count(*) FROM ledger_entry WHERE subject = :i AND event_type = :t",
                i=institution_id,
                t=submitted,
            )
            == 1
        )
        assert counter(credit_metrics, "childcare_events_consumed_total", outcome="duplicate", type=submitted) == 1
        # the credit record was opened once, so it announced itself once
        assert await p.scalar("credit", "SELECT count(*) FROM outbox") == 1
    await filing_db.dispose()


async def _scalar(db: Database, sql: str) -> Any:
    from sqlalchemy import text

    async with db.transaction() as session:
        return (await session.execute(text(sql))).scalar_one()


# --- (c) a consumer that dies after its DB commit, before its offset commit -------------------


class SimulatedProcessDeath(BaseException):
    """Not an Exception: nothing in the runner may catch it, as nothing catches SIGKILL."""


async def test_consumer_dying_after_db_commit_rereads_and_changes_nothing(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as p:
        first = await post_institution(p)
        reporting_db = Database(fresh_db("reporting"), pool_size=2)
        ctx = standalone_context("reporting", reporting_db, namespace)

        victim = runner_from(ctx, reporting_consumers, kafka.bootstrap)
        deaths: list[str] = []

        async def die_once(record: Any) -> None:
            deaths.append(record.key.decode())
            raise SimulatedProcessDeath()

        victim.after_db_commit = die_once
        task = asyncio.create_task(victim.run())
        with pytest.raises(SimulatedProcessDeath):
            await asyncio.wait_for(task, 30)
        assert deaths == [first]
        assert await _scalar(reporting_db, "SELECT count(*) FROM ledger_entry") == 1, "the DB commit happened"

        successor_ctx = standalone_context("reporting", reporting_db, namespace)
        successor = runner_from(successor_ctx, reporting_consumers, kafka.bootstrap)
        successor_task = asyncio.create_task(successor.run())
        try:
            await eventually(
                lambda: _true(
                    counter(successor_ctx.metrics, "childcare_events_consumed_total", outcome="duplicate") == 1
                ),
                within=30,
            )
            assert await _scalar(reporting_db, "SELECT count(*) FROM ledger_entry") == 1, "redelivery changed nothing"

            second = await post_institution(p)  # and the stream goes on
            await eventually(
                lambda: _ledger_count_is(reporting_db, 2),
                within=20,
            )
            subjects = await _scalar(reporting_db, "SELECT string_agg(subject, ',' ORDER BY index) FROM ledger_entry")
            assert subjects == f"{first},{second}"
        finally:
            await successor.stop()
            await asyncio.wait_for(successor_task, 20)
            await reporting_db.dispose()


async def _dead_letters_arrived(bootstrap: str, topic: str) -> bool:
    return bool(await read_topic(bootstrap, topic))


async def _true(value: bool) -> bool:
    return value


async def _ledger_count_is(db: Database, n: int) -> bool:
    return bool(await _scalar(db, "SELECT count(*) FROM ledger_entry") == n)


# --- (d) poison events go to the dead-letter topic with their reason; the stream goes on -------


async def test_poison_events_are_dead_lettered_with_reason_and_later_events_flow(platform: Platform) -> None:
    p = platform
    topic = p.topic(FILING_EVENTS)
    now = datetime.now(UTC).isoformat()
    unknown_type = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/services/filing",
        "type": "cn.gov.gz.childcare.filing.institution.teleported.v1",
        "time": now,
        "subject": "x",
        "datacontenttype": "application/json",
        "data": {},
    }
    invalid_payload = {**unknown_type, "id": str(uuid.uuid4()), "type": InstitutionSubmittedV1.event_type}
    invalid_payload["data"] = {"institution_id": "not-a-uuid", "uscc": "short"}
    poison = [
        (b"k1", b"\xff\xfe this is not UTF-8 JSON"),
        (b"k2", b'{"hello": "world"}'),
        (b"k3", json.dumps(unknown_type).encode()),
        (b"k4", json.dumps(invalid_payload).encode()),
    ]
    await produce_raw(p.bootstrap, topic, poison)
    healthy = await post_institution(p)

    async def applied() -> bool:
        return (await p.clients["credit"].get(f"/v1/credit/institutions/{healthy}", headers=READER)).status_code == 200

    await eventually(applied, within=20)
    await eventually(lambda: _in_ledger(p, healthy), within=20)

    for consumer in ("credit", "reporting"):
        dead = await read_topic(p.bootstrap, p.topic(f"childcare.dlq.{consumer}"))
        by_key = {r.key: r for r in dead}
        assert set(by_key) == {b"k1", b"k2", b"k3", b"k4"}, consumer
        reasons = {k: dict(r.headers)["dlq-reason"].decode() for k, r in by_key.items()}
        assert reasons == {
            b"k1": "undecodable",
            b"k2": "invalid_envelope",
            b"k3": "unknown_event_type",
            b"k4": "invalid_payload",
        }
        for key, value in poison:
            record = by_key[key]
            headers = dict(record.headers)
            assert record.value == value, "the original bytes are kept for replay"
            assert headers["dlq-original-topic"].decode() == topic
            assert headers["dlq-consumer"].decode() == consumer
            assert headers["dlq-error"], "the error is recorded"
        assert b"institution_id" in dict(by_key[b"k4"].headers)["dlq-error"]
        metrics: Metrics = p.apps[consumer].state.metrics
        total = sum(
            counter(metrics, "childcare_dead_letter_events_total", consumer=consumer, reason=r)
            for r in ("undecodable", "invalid_envelope", "unknown_event_type", "invalid_payload")
        )
        assert total == 4


async def test_handler_failing_every_time_is_retried_then_dead_lettered(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as p:
        bad = await post_institution(p, await institution_body(p, "会让处理器崩溃的托育园"))
        good = await post_institution(p)
        db = Database(fresh_db("reporting"), pool_size=2)
        ctx = standalone_context("reporting", db, namespace)
        calls: dict[str, int] = {}
        applied: list[str] = []

        async def flaky(session: Any, event: DecodedEvent) -> None:
            calls[event.envelope.subject] = calls.get(event.envelope.subject, 0) + 1
            from sqlalchemy import text

            await session.execute(text("INSERT INTO ledger_head (id, size) VALUES (1, 0) ON CONFLICT DO NOTHING"))
            if event.envelope.subject == bad:
                raise ValueError("this handler cannot cope with this institution")
            applied.append(event.envelope.subject)

        runner = ConsumerRunner(
            name="reporting",
            db=db,
            metrics=ctx.metrics,
            kafka=admin_access(kafka.bootstrap),
            topics=[FILING_EVENTS],
            handlers={InstitutionSubmittedV1.event_type: flaky},
            namespace=namespace,
            max_attempts=3,
            retry_backoff=0.01,
        )
        task = asyncio.create_task(runner.run())
        try:
            await eventually(lambda: _true(good in applied), within=30)
            # the two institutions may sit on different partitions: wait for the bad one's verdict too
            await eventually(
                lambda: _dead_letters_arrived(kafka.bootstrap, f"{namespace}childcare.dlq.reporting"), within=30
            )
            assert calls[bad] == 3, "bounded retries"
            dead = await read_topic(kafka.bootstrap, f"{namespace}childcare.dlq.reporting")
            assert [dict(r.headers)["dlq-reason"] for r in dead] == [b"handler_failed"]
            assert b"cannot cope" in dict(dead[0].headers)["dlq-error"]
            # the failed attempts left nothing behind: not even the inbox row
            assert await _scalar(db, "SELECT count(*) FROM inbox") == 1
        finally:
            await runner.stop()
            await asyncio.wait_for(task, 20)
            await db.dispose()


# --- (e) per-institution order is kept ----------------------------------------------------------


async def test_each_institutions_events_arrive_in_the_order_they_were_committed(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    kafka.provision(namespace, extra_dead_letters=("ordering",))
    partitioner = DefaultPartitioner()
    institutions = [uuid.uuid4() for _ in range(8)]
    used = {partitioner(str(i).encode(), [0, 1, 2], [0, 1, 2]) for i in institutions}
    assert len(used) >= 2, "the test must spread institutions over several partitions"

    filing_db = Database(fresh_db("filing"), pool_size=4)
    outbox = Outbox(source="/services/filing", namespace=namespace)
    rounds = 15
    for seq in range(rounds):
        for institution_id in institutions:
            async with filing_db.transaction() as session:
                await outbox.add(
                    session,
                    InstitutionSubmittedV1(
                        institution_id=institution_id,
                        uscc=new_uscc(),
                        name=f"seq-{seq:03d}",
                        district_code="440106",
                        street_code="440106001",
                        submitted_at=datetime.now(UTC),
                    ),
                    subject=str(institution_id),
                )

    consumer_db = Database(fresh_db("reporting"), pool_size=2)
    seen: dict[str, list[str]] = {}

    async def record(session: Any, event: DecodedEvent) -> None:
        assert isinstance(event.data, InstitutionSubmittedV1)
        seen.setdefault(event.envelope.subject, []).append(event.data.name)

    runner = ConsumerRunner(
        name="ordering",
        db=consumer_db,
        metrics=Metrics("test"),
        kafka=admin_access(kafka.bootstrap),
        topics=[FILING_EVENTS],
        handlers={InstitutionSubmittedV1.event_type: record},
        namespace=namespace,
    )
    # small batches: ordering must hold across relay batches, not just inside one
    relay = OutboxRelay(
        filing_db,
        lambda: make_producer(admin_access(kafka.bootstrap), client_id="order"),
        Metrics("filing"),
        service="filing",
        batch_size=7,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    try:
        await eventually(lambda: _true(sum(len(v) for v in seen.values()) == rounds * len(institutions)), within=40)
        expected = [f"seq-{s:03d}" for s in range(rounds)]
        for institution_id in institutions:
            assert seen[str(institution_id)] == expected
    finally:
        await relay.stop()
        await runner.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await filing_db.dispose()
        await consumer_db.dispose()


# --- (f) the broker stopped and restarted mid-stream loses nothing ----------------------------


async def test_broker_killed_and_restarted_mid_stream_loses_nothing(
    tmp_path: Any, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    broker = LocalKafka(tmp_path / "kafka-restart")
    broker.start()
    broker.provision(namespace)
    try:
        urls = {s: fresh_db(s) for s in SERVICES_UNDER_TEST}
        async with Platform(broker.bootstrap, namespace, urls) as p:
            total, kill_after = 30, 10
            ids: list[str] = []
            for n in range(total):
                if n == kill_after:
                    await eventually(lambda: _true(bool(ids) and len(ids) == kill_after), within=5)
                    await asyncio.to_thread(broker.kill)  # SIGKILL: no clean shutdown
                ids.append(await post_institution(p))  # filing keeps accepting: the outbox holds events
                if n == kill_after + 5:
                    await asyncio.to_thread(broker.start)  # same data directory, same ports

            async def all_arrived() -> bool:
                credit = await p.scalar("credit", "SELECT count(*) FROM credit_subject")
                ledger = await p.scalar("reporting", "SELECT count(*) FROM ledger_entry")
                return bool(credit == total and ledger == 2 * total)

            await eventually(all_arrived, within=120, every=0.5)
            await asyncio.sleep(1.0)
            assert await p.scalar("credit", "SELECT count(*) FROM credit_subject") == total
            assert await p.scalar("reporting", "SELECT count(*) FROM ledger_entry") == 2 * total
            assert await p.scalar("reporting", "SELECT count(DISTINCT event_id) FROM ledger_entry") == 2 * total
            ledgered = await p.scalar(
                "reporting",
                "SELECT string_agg(DISTINCT subject, ',') FROM ledger_entry WHERE event_type LIKE '%submitted%'",
            )
            assert set(ledgered.split(",")) == set(ids)
            assert await p.scalar("filing", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        broker.stop()
