"""The bulk rebuild (``services.credit.rebuild``) against the live consumer path, on real Kafka and
PostgreSQL: the same records applied by the live service one at a time, and rebuilt in bulk into
empty databases with one worker and with two worker processes, give equal tables row by row.

Compared: every column of ``TABLES`` (tests/credit/test_credit_flow.py) and the inbox, except what
is legitimately the time or chance of processing — the subject's random ``id`` and ``created_at``,
an entry's ``recorded_at``, a standing's ``evaluated_at``, identity ids of standings, history rows,
list stays and activations, the inbox's ``processed_at``. The outbox is compared by id: every event
the rebuild announces carries an id the live service gave (nothing downstream doubles).

Then the live service is started on the rebuilt database with its group rewound to the beginning:
the inbox rows make it skip every record, so nothing is applied or announced twice. A second test
adds what only the credit topic carries: an approved repair of an institution's entry, a refused
repair of a person's, a policy activation and an event recorded under the new version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from devstack.kafka import LocalKafka
from services.credit.rebuild import RebuildRefused, rebuild
from services.credit.restore import CONSUMER, TOPICS, rewind
from services.credit.settings import CreditSettings
from shared.db import Database
from shared.topics import FILING_EVENTS, consumer_group, qualified
from tests.credit.support import (
    T0,
    Clock,
    credit_service,
    violation,
)
from tests.credit.test_credit_flow import repair_scenario
from tests.credit.test_restore import _caught_up, _events, _outbox_ids, _published, _rows, _state
from tests.support import admin_access, eventually, produce_raw, settings_for, token

OFFICER = token("credit_officer", subject="credit-officer-01")
INBOX = "SELECT consumer, event_source, event_id, event_type FROM inbox ORDER BY 1, 2, 3"


async def _everything(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {**await _state(db), "inbox": await _rows(db, INBOX)}


async def test_the_bulk_rebuild_with_one_and_two_workers_equals_the_live_service_and_applies_nothing_twice(
    kafka: LocalKafka, fresh_db: Callable[[str], str]
) -> None:
    clock = Clock()
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    first, second = _events()
    carer = "c" * 64  # hired at one institution (_events), named by a violation at another: crosses workers
    elsewhere = violation(uuid.uuid4(), "general", T0 - timedelta(days=1), person_ref=carer)
    stream = [*first, *second, elsewhere]
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as live:
        for raw in stream:  # one at a time, as a service keeping up with its topics applies them
            await live.send(raw)
        await live.send(stream[0], new=0)  # a redelivery: the inbox drops it
        # a record nobody can decode: dead-lettered, never applied
        await produce_raw(kafka.bootstrap, qualified(namespace, FILING_EVENTS), [(b"k", b"not a cloudevent")])
        clock.advance(hours=1)
        activated = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert activated.status_code == 200, activated.text

        async def read_back() -> bool:
            return await live.processed() == len(stream) + 1

        await eventually(read_back, within=30)
        await eventually(lambda: _published(live.db), within=30)
        live_state = await _everything(live.db)
        live_ids = await _outbox_ids(live.db)
    assert any(row[0] == "industry_ban" for row in live_state["credit_list_membership"]), "a ban in the stream"
    assert any(row[0] == "person" for row in live_state["credit_standing"]), "a graded person"

    settings = settings_for("credit", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
    assert isinstance(settings, CreditSettings)
    credit_topics = [qualified(namespace, t) for t in TOPICS]
    group = consumer_group(namespace, CONSUMER)
    for workers in (1, 2):
        url = fresh_db("credit")
        db = Database(url, pool_size=2)
        try:
            result = await rebuild(db, settings, workers=workers, chunk=4, clock=clock)
            assert result.workers == workers
            assert result.applied == len(stream) + 1, "every event once (the activation read back included)"
            assert (result.duplicates, result.dead_lettered) == (1, 1)
            assert await _everything(db) == live_state
            announced = await _outbox_ids(db)
            assert announced, "the final states are announced (records, grades, list stays)"
            assert announced <= live_ids, "each under the id the live service gave it"
            assert result.announced == len(announced)
            with pytest.raises(RebuildRefused, match="not empty"):
                await rebuild(db, settings, workers=workers, clock=clock)
        finally:
            await db.dispose()

        # the live service on the rebuilt database, its group rewound: the inbox skips every record
        await rewind(admin_access(kafka.bootstrap), group, credit_topics)
        async with credit_service(kafka.bootstrap, namespace, url, clock) as after:
            await eventually(lambda: _caught_up(kafka.bootstrap, group, credit_topics), within=60)
            assert await _everything(after.db) == live_state, "nothing applied twice"
            assert await _outbox_ids(after.db) == announced, "nothing announced again"


async def test_the_bulk_rebuild_reproduces_repairs_and_a_policy_change_read_from_the_credit_topic(
    kafka: LocalKafka, fresh_db: Callable[[str], str]
) -> None:
    """The live scenario of test_credit_flow's replay test (repairs decided 400 days on, then v2)."""
    clock = Clock()
    async with repair_scenario(kafka, fresh_db, clock) as (story, live):
        namespace = story.namespace
        await eventually(lambda: _published(live.db), within=30)
        live_state = await _everything(live.db)
        live_ids = await _outbox_ids(live.db)
    assert {r[4] for r in live_state["credit_repair"]} == {"approved", "refused"}
    assert any("信用修复" in row[7] for row in live_state["credit_grade_history"]), "the repair changed a grade"

    settings = settings_for("credit", kafka_bootstrap_servers=kafka.bootstrap, kafka_namespace=namespace)
    assert isinstance(settings, CreditSettings)
    for workers in (1, 2):
        db = Database(fresh_db("credit"), pool_size=2)
        try:
            result = await rebuild(db, settings, workers=workers, clock=clock)
            assert (result.workers, result.applied) == (workers, story.processed)
            assert await _everything(db) == live_state
            assert await _outbox_ids(db) <= live_ids
        finally:
            await db.dispose()
