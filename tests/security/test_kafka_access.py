"""Trust in the pipes, on the real broker (SASL/SCRAM-SHA-512, StandardAuthorizer, no ACL = no
access): nobody without credentials, and no service with its own, can put an event on a topic it does
not own; and an event on a topic its producer may write, but claiming another service as its source,
is dead-lettered as ``source_mismatch`` and changes nothing (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from devstack.kafka import LocalKafka
from shared.kafka import KafkaAccess, make_producer
from shared.kafka_access import PRINCIPALS, acl_bindings
from shared.topics import FILING_EVENTS, INSPECTION_EVENTS
from tests.credit.support import violation
from tests.support import Platform, eventually, read_topic

FORGED_SOURCE = "/services/inspection"


def forged_abuse_case(institution_id: uuid.UUID) -> bytes:
    """What the attacker sent: inspection's confirmed child-abuse violation for a fresh institution."""
    raw = violation(institution_id, "critical", datetime.now(UTC) - timedelta(minutes=1), child_abuse=True)
    assert json.loads(raw)["source"] == FORGED_SOURCE
    return raw


async def public_credit(p: Platform, institution_id: uuid.UUID) -> tuple[str | None, list[str]]:
    response = await p.clients["credit"].get(f"/v1/public/credit/institutions/{institution_id}")
    if response.status_code == 404:
        return None, []
    body = response.json()
    return body["grade"], body["lists"]


async def test_no_credentials_and_foreign_credentials_cannot_write_inspection_events(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    target = uuid.uuid4()
    topic = f"{namespace}{INSPECTION_EVENTS}"
    raw = forged_abuse_case(target)
    async with Platform(kafka.bootstrap, namespace, {"credit": fresh_db("credit")}) as p:
        await eventually(lambda: _ready(p), within=30)
        assert await public_credit(p, target) == (None, [])

        # 1. No credentials at all: the SASL listener closes the connection before any request.
        anonymous = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, request_timeout_ms=5000)
        with pytest.raises(KafkaConnectionError):
            await anonymous.start()
        await anonymous.stop()

        # 2. A principal that does not exist (or a wrong password): authentication fails.
        # aiokafka logs the broker's SaslAuthenticationFailed and gives up bootstrapping.
        stranger = make_producer(KafkaAccess(kafka.bootstrap, "inspection", "guessed-password"), client_id="x")
        with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
            await stranger.start()
        await stranger.stop()
        assert "SaslAuthenticationFailed" in caplog.text
        assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in caplog.text

        # 3. Filing's own credentials: authenticated, but filing may not write inspection's topic.
        filing = make_producer(kafka.access("filing"), client_id="filing-forger")
        await filing.start()
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await filing.send_and_wait(topic, raw, key=str(target).encode())
        finally:
            await filing.stop()

        # Nothing reached the topic, so credit has nothing to apply: the public answer is unchanged
        # once credit has caught up with a legitimate inspection event published after the attempts.
        assert await read_topic(kafka.bootstrap, topic) == []
        witness = uuid.uuid4()
        inspection = make_producer(kafka.access("inspection"), client_id="inspection-relay")
        await inspection.start()
        try:
            await inspection.send_and_wait(topic, forged_abuse_case(witness), key=str(witness).encode())
        finally:
            await inspection.stop()

        async def witness_graded() -> bool:
            return (await public_credit(p, witness))[0] == "D"

        await eventually(witness_graded, within=30)
        assert await public_credit(p, target) == (None, [])


async def test_event_claiming_another_source_is_dead_lettered_as_source_mismatch(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """Filing may write the filing topic; an inspection-sourced child-abuse case written there (a
    compromised filing service, or a stolen filing password) changes nothing in credit."""
    target = uuid.uuid4()
    raw = forged_abuse_case(target)
    async with Platform(kafka.bootstrap, namespace, {"credit": fresh_db("credit")}) as p:
        await eventually(lambda: _ready(p), within=30)
        filing = make_producer(kafka.access("filing"), client_id="filing-forger")
        await filing.start()
        try:
            await filing.send_and_wait(f"{namespace}{FILING_EVENTS}", raw, key=str(target).encode())
        finally:
            await filing.stop()

        dead_letter_topic = f"{namespace}childcare.dlq.credit"

        async def dead_lettered() -> bool:
            return bool(await read_topic(kafka.bootstrap, dead_letter_topic))

        await eventually(dead_lettered, within=30)
        (dead,) = await read_topic(kafka.bootstrap, dead_letter_topic)
        headers = {k: v.decode() for k, v in dead.headers}
        assert headers["dlq-reason"] == "source_mismatch"
        assert headers["dlq-original-topic"] == f"{namespace}{FILING_EVENTS}"
        assert FORGED_SOURCE in headers["dlq-error"]
        assert dead.value == raw, "the record is kept as it arrived, for the investigation"
        assert await public_credit(p, target) == (None, [])
        failed = await p.scalar("credit", "SELECT count(*) FROM inbox WHERE event_id = :id", id=json.loads(raw)["id"])
        assert failed == 0, "a dead-lettered record is not recorded as processed"


async def test_a_service_reads_only_what_it_consumes_and_joins_only_its_own_group(
    kafka: LocalKafka, namespace: str
) -> None:
    """Least privilege on the read side too: filing does not consume filing events, so it may not
    read them, nor use another service's consumer group."""
    await _produce_one(kafka, f"{namespace}{FILING_EVENTS}")
    for group, topic in (
        (f"{namespace}childcare.filing", f"{namespace}{FILING_EVENTS}"),  # its group, a topic it does not read
        (f"{namespace}childcare.credit", f"{namespace}{INSPECTION_EVENTS}"),  # a topic it reads, credit's group
    ):
        consumer = AIOKafkaConsumer(
            topic, **kafka.access("filing").aiokafka(), group_id=group, auto_offset_reset="earliest"
        )
        try:
            with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
                await _start_and_fetch(consumer)
        finally:
            await consumer.stop()


def test_acl_plan_grants_each_service_only_its_topics_groups_and_dead_letters() -> None:
    """The plan the admin step applies, spelled out: who writes what."""
    bindings = acl_bindings("")
    writes = {
        (b.principal, b.name)  # type: ignore[attr-defined]
        for b in bindings
        if b.operation.name == "WRITE"  # type: ignore[attr-defined]
    }
    assert writes == {
        ("User:filing", "childcare.filing.events"),
        ("User:filing", "childcare.dlq.filing"),
        ("User:inspection", "childcare.inspection.events"),
        ("User:inspection", "childcare.dlq.inspection"),
        ("User:credit", "childcare.credit.events"),
        ("User:credit", "childcare.dlq.credit"),
        ("User:reporting", "childcare.ledger.changes"),
        ("User:reporting", "childcare.dlq.reporting"),
    }
    assert all(b.permission_type.name == "ALLOW" for b in bindings)  # type: ignore[attr-defined]
    assert all(b.resource_pattern_type.name == "LITERAL" for b in bindings)  # type: ignore[attr-defined]
    assert set(PRINCIPALS) == {"filing", "inspection", "credit", "reporting"}


async def _start_and_fetch(consumer: AIOKafkaConsumer) -> None:
    await consumer.start()
    for _ in range(10):  # the refusal comes with the group join or the first fetch
        await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)


async def _ready(p: Platform) -> bool:
    return all([(await c.get("/readyz")).status_code == 200 for c in p.clients.values()])


async def _produce_one(kafka: LocalKafka, topic: str) -> None:
    producer = make_producer(kafka.access(), client_id="operator")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"k")
    finally:
        await producer.stop()
