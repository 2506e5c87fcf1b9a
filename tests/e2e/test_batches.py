"""Consumers apply a fetched batch in one transaction (shared/consumer.py). These tests pin what that
must not change: a bad record is still isolated and dead-lettered while the rest apply exactly once
and in order, and a read model built batch by batch equals the one built event by event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from devstack.kafka import LocalKafka
from services.credit.consumers import credit_handlers
from services.credit.env import CreditEnv
from services.credit.policy.documents import POLICY_DIR, default_registry
from services.reporting.consumers import consumers as reporting_consumers
from shared.app import ServiceContext
from shared.consumer import ConsumerRunner, Handler
from shared.db import Database
from shared.events import CloudEvent, DecodedEvent, decode
from shared.events.filing import InstitutionSubmittedV1
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.topics import FILING_EVENTS, INSPECTION_EVENTS, qualified
from tests.reporting.support import envelope, institution_story, profile
from tests.support import admin_access, eventually, produce_raw, read_topic, settings_for

KEY = b"one-partition"  # one key: every record on one partition, in the order produced


def submitted(n: int) -> CloudEvent:
    iid = uuid.UUID(int=0xBA7C << 64 | n)
    prof = profile(name=f"批量第{n}托育中心")
    at = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(minutes=n)
    return envelope(
        InstitutionSubmittedV1(
            institution_id=iid,
            uscc=prof.uscc,
            name=prof.name,
            district_code="440106",
            street_code="440106001",
            submitted_at=at,
            profile=prof,
        ),
        str(iid),
        at=at,
    )


def context(service: str, db: Database, namespace: str) -> ServiceContext:
    settings = settings_for(service, kafka_namespace=namespace)
    return ServiceContext(
        settings=settings, db=db, outbox=Outbox(source=settings.source, namespace=namespace), metrics=Metrics(service)
    )


@asynccontextmanager
async def consuming(
    ctx: ServiceContext, name: str, topics: list[str], handlers: Mapping[str, Handler], bootstrap: str
) -> AsyncIterator[ConsumerRunner]:
    runner = ConsumerRunner(
        name=name,
        db=ctx.db,
        metrics=ctx.metrics,
        kafka=admin_access(bootstrap),
        topics=topics,
        handlers=handlers,
        namespace=ctx.settings.kafka_namespace,
        retry_backoff=0.01,
        session_timeout_ms=6000,
    )
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        await runner.stop()
        await asyncio.wait_for(task, 20)


async def scalar(db: Database, sql: str) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql))).scalar_one()


async def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    async with db.transaction() as session:
        return [tuple(r) for r in await session.execute(text(sql))]


async def test_bad_record_in_a_batch_is_dead_lettered_and_the_rest_apply_once_in_order(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    events = [submitted(n) for n in range(40)]
    bad = events[17].subject
    # Everything is on the topic before the consumer starts, so its fetches hold many records each.
    await produce_raw(
        kafka.bootstrap, qualified(namespace, FILING_EVENTS), [(KEY, e.to_json().encode()) for e in events]
    )

    url = fresh_db("reporting")
    db, runner_db = Database(url, pool_size=2), Database(url, pool_size=2)
    ctx = context("reporting", runner_db, namespace)
    real = reporting_consumers(ctx)[0].handlers[InstitutionSubmittedV1.event_type]
    calls: dict[str, int] = {}
    transactions = 0
    open_transaction = runner_db.transaction

    def counted() -> Any:
        nonlocal transactions
        transactions += 1
        return open_transaction()

    runner_db.transaction = counted  # type: ignore[method-assign]

    async def fails_for_one(session: Any, event: DecodedEvent) -> None:
        calls[event.envelope.subject] = calls.get(event.envelope.subject, 0) + 1
        await real(session, event)
        if event.envelope.subject == bad:
            raise ValueError("this institution breaks the handler")

    handlers: dict[str, Handler] = {InstitutionSubmittedV1.event_type: fails_for_one}
    try:
        async with consuming(ctx, "reporting", [FILING_EVENTS], handlers, kafka.bootstrap):
            await eventually(lambda: _equals(scalar(db, "SELECT count(*) FROM ledger_entry"), 39), within=60)
            await eventually(lambda: _has(kafka.bootstrap, f"{namespace}childcare.dlq.reporting"), within=20)
            dead = await read_topic(kafka.bootstrap, f"{namespace}childcare.dlq.reporting")

        assert [dict(r.headers)["dlq-reason"] for r in dead] == [b"handler_failed"]
        assert decode(dead[0].value).envelope.subject == bad
        assert calls[bad] == 3, "tried max_attempts times in all, the failed batch counting as the first"
        ledger = await rows(db, "SELECT subject FROM ledger_entry ORDER BY index")
        assert [s for (s,) in ledger] == [e.subject for e in events if e.subject != bad], "each once, in order"
        assert await scalar(db, "SELECT count(*) FROM inbox") == 39, (
            "the bad record left nothing, not even its inbox row"
        )
        assert await scalar(db, "SELECT count(*) FROM outbox") == 39, "one ledger-shared event per entry"
        # The batch was tried whole first (and rolled back when the bad record failed): the records
        # before the bad one ran twice, yet appear once.
        assert any(calls[e.subject] == 2 for e in events[:17])
        # 40 records: the failed batch, the part before the bad record, the bad record's two more
        # tries alone, the part after it: a handful of transactions, not one per record.
        assert transactions <= 12, transactions
    finally:
        await db.dispose()
        await runner_db.dispose()


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _has(bootstrap: str, topic: str) -> bool:
    return bool(await read_topic(bootstrap, topic))


async def test_credit_built_batch_by_batch_equals_credit_built_event_by_event(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """The grade is re-evaluated once per subject per batch instead of after every event; the
    standings, grade histories and lists must come out the same."""
    story = [e for n in range(12) for e in institution_story(n)]
    relevant = [e for e in story if e.type.split(".")[4] in ("filing", "inspection")]
    for e in relevant:
        topic = FILING_EVENTS if ".filing." in e.type else INSPECTION_EVENTS
        await produce_raw(kafka.bootstrap, qualified(namespace, topic), [(e.subject.encode(), e.to_json().encode())])

    clock_at = datetime(2026, 6, 1, 4, tzinfo=UTC)
    env = CreditEnv(registry=default_registry(str(POLICY_DIR)), default_version="v1", now=lambda: clock_at)
    batched_db, stepwise_db = Database(fresh_db("credit"), pool_size=2), Database(fresh_db("credit"), pool_size=2)
    try:
        batched = context("credit", batched_db, namespace)
        handlers = credit_handlers(batched, env)
        async with consuming(batched, "credit", [FILING_EVENTS, INSPECTION_EVENTS], handlers, kafka.bootstrap):
            await eventually(
                lambda: _equals(scalar(batched_db, "SELECT count(*) FROM inbox"), len(relevant)), within=60
            )

        stepwise = context("credit", stepwise_db, namespace)
        step_handlers = credit_handlers(stepwise, env)
        for e in relevant:  # each in its own transaction, the grade re-evaluated after each
            event = decode(e.to_json().encode())
            async with stepwise_db.transaction() as session:
                await step_handlers[e.type](session, event)

        for table, columns in (
            ("credit_standing", "subject_kind, subject_id, policy_version, score, grade, graded_at"),
            (
                "credit_grade_history",
                "subject_kind, subject_id, policy_version, graded_at, grade, previous_grade, score, reason",
            ),
            ("credit_list_membership", "list_name, subject_kind, subject_id, reason, entered_at, until, left_at"),
            ("credit_entry", "subject_kind, subject_id, rule_id, source_key, effective_from, detail_zh"),
            (  # folded per batch in Python, then by the upsert (repository.fold_subject)
                "credit_subject",
                "subject_kind, subject_id, display_name, district_code, opened_at, opened_by_event_id, profile_at,"
                " deregistered_at",
            ),
        ):
            query = f"SELECT {columns} FROM {table} ORDER BY {columns}"
            assert await rows(batched_db, query) == await rows(stepwise_db, query), table
        assert await rows(batched_db, "SELECT count(*) FROM credit_grade_history") != [(0,)], "grades were given"
        graded = (
            "SELECT payload::jsonb->'data'->>'institution_id', payload::jsonb->'data'->>'grade' FROM outbox"
            " WHERE event_type LIKE '%graded%' ORDER BY 1, 2"
        )
        assert await rows(batched_db, graded) == await rows(stepwise_db, graded), "the same final grades published"
        # which event announces a record is the first to arrive (topics interleave differently in the
        # two runs); that each record is announced exactly once is what must hold
        opened = "SELECT payload::jsonb->'data'->>'subject_id' FROM outbox WHERE event_type LIKE '%record.opened%'"
        opened_batched = sorted(await rows(batched_db, opened))
        assert opened_batched == sorted(await rows(stepwise_db, opened)), "each record announced once"
        assert len(opened_batched) == len(set(opened_batched)) > 0
    finally:
        await batched_db.dispose()
        await stepwise_db.dispose()
