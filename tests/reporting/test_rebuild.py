"""Rebuild: replaying every topic (real Kafka) into an empty reporting database reproduces the
ledger: the same leaves in the same order, so the same root hash at the same size."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy import make_url, select, text

from devstack.kafka import LocalKafka
from devstack.postgres import LocalPostgres
from services.reporting.ledger import service
from services.reporting.models import Base
from services.reporting.rebuild import ProjectionWorkerFailed, RebuildRefused, rebuild
from services.reporting.settings import ReportingSettings
from shared.db import Database
from shared.events import CATALOGUE, CloudEvent
from shared.events.reporting import LedgerEntrySharedV2
from shared.group_lag import group_lag
from shared.migrate import default_runtime_role
from shared.topics import DOMAIN_TOPICS, LEDGER_CHANGES, consumer_group
from tests.reporting.support import entry_shared_v1, institution_story
from tests.support import Platform, admin_access, eventually, produce_raw, read_topic, settings_for, token

OPS = token("ops")


async def leaf_hashes(db: Database) -> list[bytes]:
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT leaf_hash FROM ledger_entry ORDER BY index"))
        return [bytes(r[0]) for r in rows]


async def test_replaying_the_topics_into_an_empty_database_reproduces_the_root(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    events = [e for n in range(4) for e in institution_story(n)]
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])

    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:
        client = p.clients["reporting"]

        async def all_in() -> bool:
            return bool((await client.get("/v1/ledger?limit=1", headers=OPS)).json()["tree_size"] == len(events))

        await eventually(all_in, within=30)
        checkpoint = (await client.get("/v1/ledger/checkpoint")).json()
        original = await leaf_hashes(p.dbs["reporting"])

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(events)

        await eventually(announced, within=20)

    empty = Database(fresh_db("reporting"), pool_size=2)
    try:
        settings = settings_for("reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
        assert isinstance(settings, ReportingSettings)
        result = await rebuild(empty, settings)
        assert (result.tree_size, result.appended, result.in_recorded_order) == (24, 24, 24)
        assert await leaf_hashes(empty) == original
        async with empty.transaction() as session:
            root = await service.root_at(session, checkpoint["tree_size"])
            assert base64.b64encode(root).decode() == checkpoint["root_hash"]
            # nothing was announced twice: the ledger topic already holds these entries
            assert (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 0
            # a second run (or the live consumer reading the topics again) changes nothing
        assert (await rebuild(empty, settings)).appended == 0
    finally:
        await empty.dispose()


async def test_a_ledger_topic_holding_v1_and_v2_records_rebuilds_the_same_ledger(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """A deployment upgraded mid-way leaves its first entries on the ledger topic as ``entry_shared.v1``
    (hex leaf hash, ``source_event_*`` names) and the rest as v2. The rebuild reads the old records
    through the upcaster: the same leaves in the same order, the same root."""
    events = [e for n in range(4) for e in institution_story(n)]
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(events)

        await eventually(announced, within=30)
        checkpoint = (await p.clients["reporting"].get("/v1/ledger/checkpoint")).json()
        original = await leaf_hashes(p.dbs["reporting"])
        records = await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))
    assert checkpoint["tree_size"] == len(events)
    assert {CloudEvent.model_validate_json(r.value).type for r in records} == {LedgerEntrySharedV2.event_type}

    # The same history in a namespace of its own, its ledger topic written as the upgrade left it.
    upgraded = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(upgraded)
    for event in events:
        topic = f"{upgraded}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    half = len(records) // 2
    written = [(r.key, entry_shared_v1(r.value)) for r in records[:half]] + [(r.key, r.value) for r in records[half:]]
    await produce_raw(kafka.bootstrap, f"{upgraded}{LEDGER_CHANGES}", written)

    empty = Database(fresh_db("reporting"), pool_size=2)
    try:
        # A deployment whose new leaves are version 1: an entry comes out as version 2 only if the
        # hash read from its record (hex in v1, base64 in v2) is exactly the one the live ledger made.
        settings = settings_for(
            "reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=upgraded, ledger_leaf_version=1
        )
        assert isinstance(settings, ReportingSettings)
        result = await rebuild(empty, settings, batch=5)
        assert (result.tree_size, result.appended, result.in_recorded_order) == (24, 24, 24)
        assert await leaf_hashes(empty) == original
        async with empty.transaction() as session:
            root = await service.root_at(session, checkpoint["tree_size"])
            assert base64.b64encode(root).decode() == checkpoint["root_hash"]
            versions = (await session.execute(text("SELECT DISTINCT leaf_version FROM ledger_entry"))).scalars().all()
            assert versions == [2], "every entry in the version the live ledger appended it with"
            assert (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 0
    finally:
        await empty.dispose()


async def test_events_the_ledger_topic_does_not_mention_follow_in_topic_order_and_are_announced(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """The ledger topic is behind (the live service appended but had not announced yet, or never
    ran): the recorded prefix comes first in its recorded order, then the rest, announced now."""
    recorded = [e for n in range(3) for e in institution_story(n)]
    for event in recorded:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(recorded)

        await eventually(announced, within=30)
        original = await leaf_hashes(p.dbs["reporting"])
    # published while no reporting service ran: on the domain topics, not in the ledger topic
    tail = [e for n in range(3, 5) for e in institution_story(n)]
    for event in tail:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])

    empty = Database(fresh_db("reporting"), pool_size=2)
    try:
        settings = settings_for("reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
        assert isinstance(settings, ReportingSettings)
        result = await rebuild(empty, settings, batch=5)  # small chunks: several flushes, both kinds
        assert (result.tree_size, result.appended, result.in_recorded_order) == (30, 30, 18)
        hashes = await leaf_hashes(empty)
        assert hashes[:18] == original, "the recorded prefix in its recorded order"
        async with empty.transaction() as session:
            rows = await session.execute(text("SELECT subject, event_id FROM ledger_entry ORDER BY index OFFSET 18"))
            appended_tail = [tuple(r) for r in rows]
            announcements = (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        assert sorted(appended_tail) == sorted((e.subject, e.id) for e in tail)
        # topic/partition/offset order: one subject's events on one topic share a partition, so
        # they keep the order they were produced in
        positions = {event_id: i for i, (_, event_id) in enumerate(appended_tail)}
        for subject in {e.subject for e in tail}:
            for topic in {CATALOGUE[e.type].topic for e in tail}:
                produced = [e.id for e in tail if e.subject == subject and CATALOGUE[e.type].topic == topic]
                assert [positions[i] for i in produced] == sorted(positions[i] for i in produced)
        assert announcements == len(tail), "only the tail is announced; the prefix is on the ledger topic already"
        assert (await rebuild(empty, settings)).appended == 0
    finally:
        await empty.dispose()


async def test_a_resent_ledger_record_is_a_duplicate_not_a_missing_event(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    """The relay sends at least once: a ledger-topic record sent again (after later ones) names an
    event already appended. The rebuild skips it and does not warn that the domain topics lost it."""
    events = [e for n in range(2) for e in institution_story(n)]
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])

    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:
        original_db = p.dbs["reporting"]

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(events)

        await eventually(announced, within=30)
        original = await leaf_hashes(original_db)
        ledger_topic = p.topic(LEDGER_CHANGES)
        records = await read_topic(p.bootstrap, ledger_topic)
        # two ordinary re-sends: the first record and one from the middle, after the last
        await produce_raw(kafka.bootstrap, ledger_topic, [(r.key, r.value) for r in (records[0], records[5])])

    empty = Database(fresh_db("reporting"), pool_size=2)
    try:
        settings = settings_for("reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
        assert isinstance(settings, ReportingSettings)
        with caplog.at_level(logging.WARNING, logger="services.reporting.rebuild"):
            result = await rebuild(empty, settings)
        assert (result.tree_size, result.appended, result.in_recorded_order) == (len(events),) * 3
        assert await leaf_hashes(empty) == original
        assert not [r for r in caplog.records if "no longer hold" in r.getMessage()]
    finally:
        await empty.dispose()


async def projection_rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every statistics projection's rows (``created_at`` is when a row was written, not a fact)."""
    tables = [t for t in Base.metadata.sorted_tables if t.name.startswith("proj_")]
    out: dict[str, list[tuple[object, ...]]] = {}
    async with db.transaction() as session:
        for table in tables:
            columns = [c for c in table.c if c.name != "created_at"]
            rows = (await session.execute(select(*columns))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def test_projection_workers_rebuild_the_same_ledger_and_projections_and_a_live_consumer_doubles_nothing(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """``workers=2``: two processes project their shares of the domain partitions while this one
    appends the ledger in the recorded order. The same leaves (and versions), root and projections
    as the live service's. A live consumer started afterwards on a group that never committed reads
    every event again: the inbox the rebuild wrote drops them all, and only new events are added."""
    events = [e for n in range(4) for e in institution_story(n)]
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(events)

        await eventually(announced, within=30)
        checkpoint = (await p.clients["reporting"].get("/v1/ledger/checkpoint")).json()
        original = await leaf_hashes(p.dbs["reporting"])
        async with p.dbs["reporting"].transaction() as session:
            live_versions = (await session.execute(text("SELECT leaf_version FROM ledger_entry ORDER BY index"))).all()
        live_projections = await projection_rows(p.dbs["reporting"])
        records = await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))
    assert checkpoint["tree_size"] == len(events)
    assert sum(map(len, live_projections.values())) > 0

    # The same history in a namespace no live service has consumed: its consumer group starts at
    # the beginning of every partition.
    replayed = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(replayed)
    for event in events:
        topic = f"{replayed}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    await produce_raw(kafka.bootstrap, f"{replayed}{LEDGER_CHANGES}", [(r.key, r.value) for r in records])

    url = fresh_db("reporting")
    rebuilt = Database(url, pool_size=2)
    try:
        settings = settings_for("reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=replayed)
        assert isinstance(settings, ReportingSettings)
        result = await rebuild(rebuilt, settings, batch=5, workers=2)
        assert (result.tree_size, result.appended, result.in_recorded_order) == (24, 24, 24)
        assert await leaf_hashes(rebuilt) == original
        async with rebuilt.transaction() as session:
            versions = (await session.execute(text("SELECT leaf_version FROM ledger_entry ORDER BY index"))).all()
            assert versions == live_versions
            root = await service.root_at(session, checkpoint["tree_size"])
            assert base64.b64encode(root).decode() == checkpoint["root_hash"]
            assert (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 0
            assert (await session.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == len(events)
        assert await projection_rows(rebuilt) == live_projections
        with pytest.raises(RebuildRefused):
            await rebuild(rebuilt, settings, workers=2)  # only into an empty database
    finally:
        await rebuilt.dispose()

    later = [e for n in range(4, 5) for e in institution_story(n)]
    async with Platform(kafka.bootstrap, replayed, {"reporting": url}) as p:
        for event in later:
            topic = f"{replayed}{CATALOGUE[event.type].topic}"
            await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
        domain_topics = [f"{replayed}{t}" for t in DOMAIN_TOPICS]

        async def caught_up() -> bool:
            lags = await group_lag(admin_access(kafka.bootstrap), consumer_group(replayed, "reporting"), domain_topics)
            return bool(lags) and all(lag.lag == 0 for lag in lags)

        await eventually(caught_up, within=30)
        assert await p.scalar("reporting", "SELECT size FROM ledger_head") == len(events) + len(later)
        assert await p.scalar("reporting", "SELECT count(*) FROM ledger_entry") == len(events) + len(later)
        assert (await leaf_hashes(p.dbs["reporting"]))[: len(events)] == original
        # only the new events are announced; the rebuilt ones are on the ledger topic already
        assert await p.scalar("reporting", "SELECT count(*) FROM outbox") == len(later)
        assert await p.scalar("reporting", "SELECT count(*) FROM inbox") == len(events) + len(later)


async def test_a_failed_parallel_rebuild_leaves_a_ledger_that_reads_empty_and_a_rerun_is_refused(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], pg: LocalPostgres
) -> None:
    """The ledger head is written only after the writer and every worker succeeded, so what a failed
    parallel rebuild leaves reads as an empty ledger, and the parallel rebuild refuses to run on it
    again: the operator drops it and starts over (docs/ledger.md, "Rebuild"). Two failures, made by
    the database refusing the runtime role a table: the writer's (the outbox, needed for the tail,
    after the recorded prefix committed) and a worker's (a projection table)."""
    recorded = [e for n in range(3) for e in institution_story(n)]
    for event in recorded:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:

        async def announced() -> bool:
            return len(await read_topic(p.bootstrap, p.topic(LEDGER_CHANGES))) == len(recorded)

        await eventually(announced, within=30)
    tail = [e for n in range(3, 5) for e in institution_story(n)]
    for event in tail:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    settings = settings_for("reporting", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
    assert isinstance(settings, ReportingSettings)

    async def refusing(table: str) -> str:
        url = fresh_db("reporting")
        owner = Database(pg.url(str(make_url(url).database)), pool_size=1)
        try:
            async with owner.transaction() as session:
                await session.execute(text(f"REVOKE INSERT ON {table} FROM {default_runtime_role('reporting')}"))
        finally:
            await owner.dispose()
        return url

    db = Database(await refusing("outbox"), pool_size=2)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table outbox"):
            await rebuild(db, settings, batch=6, workers=2)
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT count(*) FROM ledger_entry"))).scalar_one() == len(recorded)
            assert await service.tree_size(session) == 0, "the recorded prefix is written, but the ledger reads empty"
        with pytest.raises(RebuildRefused):
            await rebuild(db, settings, workers=2)
        with pytest.raises(RebuildRefused):
            await rebuild(db, settings)  # nor a single-process rebuild: entries beyond the head
    finally:
        await db.dispose()

    db = Database(await refusing("proj_staff"), pool_size=2)
    try:
        with pytest.raises(ProjectionWorkerFailed):
            await rebuild(db, settings, batch=2, workers=2)
        async with db.transaction() as session:
            assert await service.tree_size(session) == 0
    finally:
        await db.dispose()
