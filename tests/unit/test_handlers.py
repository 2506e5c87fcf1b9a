"""The consumer kit's typed handler registry and batch collector, without Kafka or a database (neither
touches one: the registry dispatches, the collector keeps its items in the session's batch scope)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.batch import SCOPE_KEY, BatchCollector, BatchScope
from shared.events import CloudEvent, DecodedEvent, EventData
from shared.events.credit import PersonBanLiftedV1, PersonBannedV1
from shared.handlers import Handlers
from shared.outbox import Outbox

AT = datetime(2026, 5, 1, 2, tzinfo=UTC)
REF = "a" * 64


def decoded(data: EventData) -> DecodedEvent:
    envelope: CloudEvent = Outbox(source="/childcare/credit").envelope(data, subject=REF, at=AT)
    return DecodedEvent(envelope=envelope, data=data)


BANNED = PersonBannedV1(person_ref=REF, reason="虐童", legal_basis="第十条", banned_at=AT, cause_event_id="e1")
LIFTED = PersonBanLiftedV1(person_ref=REF, lifted_at=AT, reason="期满")


async def test_a_handler_gets_the_payload_as_its_class_and_the_event() -> None:
    seen: list[tuple[str, str]] = []
    registry = Handlers()

    @registry.on(PersonBannedV1)
    async def banned(session: AsyncSession, data: PersonBannedV1, event: DecodedEvent) -> None:
        seen.append((data.reason, event.envelope.id))

    event = decoded(BANNED)
    assert list(registry) == [PersonBannedV1.event_type]
    await registry[PersonBannedV1.event_type](AsyncSession(), event)
    assert seen == [("虐童", event.envelope.id)]
    # a type nobody registered: the runner ignores it, a rebuild's dispatch changes nothing
    assert PersonBanLiftedV1.event_type not in registry
    await registry.dispatch(AsyncSession(), decoded(LIFTED))
    assert seen == [("虐童", event.envelope.id)]


async def test_a_payload_of_another_class_is_refused_not_handled() -> None:
    registry = Handlers()
    handled: list[EventData] = []

    @registry.on(PersonBannedV1)
    async def banned(session: AsyncSession, data: PersonBannedV1, event: DecodedEvent) -> None:
        handled.append(data)

    wrong = DecodedEvent(envelope=decoded(BANNED).envelope, data=LIFTED)
    with pytest.raises(TypeError, match="PersonBanLiftedV1"):
        await registry[PersonBannedV1.event_type](AsyncSession(), wrong)
    assert handled == []


async def test_merged_registries_run_every_handler_of_a_type_in_registration_order() -> None:
    calls: list[str] = []
    domain, consumer = Handlers(), Handlers()

    @domain.on(PersonBannedV1, PersonBanLiftedV1)
    async def project(session: AsyncSession, data: EventData, event: DecodedEvent) -> None:
        calls.append(f"project {type(data).__name__}")

    consumer.include(domain)

    @consumer.on(PersonBannedV1)
    async def react(session: AsyncSession, data: PersonBannedV1, event: DecodedEvent) -> None:
        calls.append("react")

    await consumer[PersonBannedV1.event_type](AsyncSession(), decoded(BANNED))
    await consumer[PersonBanLiftedV1.event_type](AsyncSession(), decoded(LIFTED))
    assert calls == ["project PersonBannedV1", "react", "project PersonBanLiftedV1"]
    # the domain's own registry is left as it was: its handler alone
    await domain[PersonBannedV1.event_type](AsyncSession(), decoded(BANNED))
    assert calls[3:] == ["project PersonBannedV1"]


async def test_the_collector_writes_at_once_outside_a_batch_and_once_at_the_end_of_one() -> None:
    writes: list[list[str]] = []

    async def write(session: AsyncSession, items: list[str]) -> None:
        writes.append(items)
        if items == ["c"]:  # work done at the batch's end may add more; it is written too
            await rows.add(session, "late")

    rows = BatchCollector[str]("test.rows", write)

    outside = AsyncSession()
    await rows.add(outside, "x")
    await rows.flush(outside)  # nothing is pending outside a batch
    assert writes == [["x"]]

    inside = AsyncSession()
    scope = BatchScope()
    inside.info[SCOPE_KEY] = scope
    for item in "ab":
        await rows.add(inside, item)
    await rows.flush(inside)  # a read that needs them: written now, not again at the end
    await rows.add(inside, "c")
    assert writes == [["x"], ["a", "b"]]
    await scope.run()
    assert writes == [["x"], ["a", "b"], ["c"], ["late"]]


async def test_the_collector_writes_several_items_at_once_outside_a_batch_and_in_order_in_one() -> None:
    writes: list[list[str]] = []

    async def write(session: AsyncSession, items: list[str]) -> None:
        writes.append(items)

    rows = BatchCollector[str]("test.rows", write)

    outside = AsyncSession()
    await rows.add_all(outside, [])  # nothing to write: no statement
    await rows.add_all(outside, ["x", "y"])
    assert writes == [["x", "y"]]

    inside = AsyncSession()
    scope = BatchScope()
    inside.info[SCOPE_KEY] = scope
    await rows.add(inside, "a")
    await rows.add_all(inside, ["b", "c"])
    await rows.add(inside, "d")
    assert writes == [["x", "y"]]
    await scope.run()
    assert writes == [["x", "y"], ["a", "b", "c", "d"]]
