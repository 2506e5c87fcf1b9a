"""Schema evolution through the services' real consumers, on the real broker (issue 17 item 2).

* N+1: a producer one version ahead publishes the same events with a new optional field at every
  nesting level of each payload and a new CloudEvents extension attribute. Every service's consumer
  applies them (none dead-lettered) and ends in the same state as with today's events.
* N−1: an event of an older version of a type, lifted by its upcaster, is applied by today's consumer.
* The rolling deploy of ``outdoor_area_m2``: a consumer of today's code, whose profile model has no
  such field, applies a filed event whose profile carries it.

The unit-level check of every type in the catalogue is tests/unit/test_schema_evolution.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from devstack.kafka import LocalKafka
from devstack.postgres import LocalPostgres
from shared.consumer import ConsumerRunner
from shared.db import Database
from shared.events import CATALOGUE, UPCASTERS, CloudEvent, EventData, upcaster
from shared.events.credit import InstitutionGradedV1, PersonBannedV1
from shared.events.filing import (
    AnnualReportSubmittedV1,
    Certificate,
    InstitutionFiledV1,
    InstitutionProfile,
    InstitutionSubmittedV1,
    StaffHiredV1,
    StaffingShortfall,
    StaffingShortfallFlaggedV1,
)
from shared.events.inspection import (
    GuidancePlanSetV1,
    GuidanceStep,
    InspectionResultPublishedV1,
    PlanCommittedV2,
    ViolationConfirmedV1,
    WitnessObserver,
)
from shared.group_lag import group_lag
from shared.outbox import Outbox
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS
from tests.event_examples import FUTURE_EXTENSION, field_unknown_to_todays_profile, with_future_fields
from tests.filing.support import insert_filed_institution
from tests.reporting.support import profile
from tests.support import Platform, admin_access, eventually, produce_raw, read_topic

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
INSTITUTION = uuid.UUID("7d4a2a5e-0000-4000-8000-000000000001")
PERSON = "7e" * 32
USCC = "91440106MA59C8XK3C"
TOPIC_OF = {"filing": FILING_EVENTS, "inspection": INSPECTION_EVENTS, "credit": CREDIT_EVENTS}
# What only records the processing itself (when, in which order, under which generated id): the
# same events consumed twice differ there, whatever their payloads.
BOOKKEEPING_TABLES = ("inbox", "outbox", "audit_log", "alembic_version")  # name prefixes


def published(service: str, data: EventData, n: int, *, subject: str = str(INSTITUTION)) -> CloudEvent:
    """The envelope ``service``'s outbox relay would publish, with a fixed id and time (so that two
    runs consume the very same events)."""
    envelope = Outbox(source=f"/services/{service}").envelope(data, subject=subject, at=T0 + timedelta(minutes=n))
    return envelope.model_copy(update={"id": str(uuid.UUID(int=0x5E00 + n))})


def story() -> list[CloudEvent]:
    """One institution's events over the three domain topics, with nested payloads wherever the
    catalogue has them: the profile and its class plans, certificates, shortfalls, observers, steps."""
    prof = profile(uscc=USCC, name="越秀区向日葵托育中心")
    at = T0
    return [
        published(
            "filing",
            InstitutionSubmittedV1(
                institution_id=INSTITUTION,
                uscc=USCC,
                name=prof.name,
                district_code="440106",
                street_code="440106001",
                submitted_at=at,
                profile=prof,
            ),
            1,
        ),
        published(
            "filing",
            InstitutionFiledV1(institution_id=INSTITUTION, profile=prof, decided_by="officer-7", decided_at=at),
            2,
        ),
        published(
            "filing",
            StaffHiredV1(
                institution_id=INSTITUTION,
                staff_id=uuid.UUID(int=0x51),
                person_ref=PERSON,
                id_masked="4401**********123X",
                name="李四",
                role="carer",
                hired_on=at.date(),
                certificates=[Certificate(kind="childcare_worker", number="C-001", expires_on=date(2029, 1, 1))],
                training_hours=24.0,
            ),
            3,
        ),
        published(
            "filing",
            StaffingShortfallFlaggedV1(
                institution_id=INSTITUTION,
                shortfalls=[StaffingShortfall(code="carer_ratio", detail="保育人员不足", required=7, actual=5)],
                flagged_at=at,
            ),
            4,
        ),
        published(
            "filing",
            AnnualReportSubmittedV1(
                institution_id=INSTITUTION,
                year=2025,
                submitted_at=at,
                on_time=True,
                enrolled_children=30,
                staff_count=9,
                incidents=0,
            ),
            5,
        ),
        published(
            "inspection",
            ViolationConfirmedV1(
                violation_id=uuid.UUID(int=0x61),
                task_id=uuid.UUID(int=0x62),
                institution_id=INSTITUTION,
                code="SAFE-01",
                title_zh="消防通道堵塞",
                severity="serious",
                legal_basis="《托育机构管理规范（试行）》第十条",
                person_ref=PERSON,
                description="二楼消防通道堆放杂物",
                rectification_due=date(2026, 12, 1),
                confirmed_by="supervisor-1",
                confirmed_at=at,
            ),
            6,
        ),
        published(
            "inspection",
            InspectionResultPublishedV1(
                institution_id=INSTITUTION,
                task_id=uuid.UUID(int=0x62),
                plan_id=uuid.UUID(int=0x63),
                conclusion="rectification_required",
                violation_count=1,
                violations_by_severity={"serious": 1},
                summary_zh="消防通道堵塞，限期整改",
                inspected_at=at - timedelta(days=2),
                published_at=at,
            ),
            7,
        ),
        published(
            "inspection",
            PlanCommittedV2(
                plan_id=uuid.UUID(int=0x63),
                algorithm="gz-childcare-draw/v3",
                commitment="a1" * 32,
                institutions_hash="b2" * 32,
                inspectors_hash="c3" * 32,
                institution_count=1,
                inspector_count=2,
                observers=[
                    WitnessObserver(
                        observer_id=uuid.UUID(int=0x64),
                        organisation="市人大代表",
                        commitment="d4" * 32,
                        registered_at=at,
                    )
                ],
                reveal_not_before=at + timedelta(days=1),
                withheld_after=at + timedelta(days=2),
                committed_at=at,
            ),
            8,
            subject=str(uuid.UUID(int=0x63)),
        ),
        published(
            "inspection",
            GuidancePlanSetV1(
                case_id=uuid.UUID(int=0x65),
                district_code="440106",
                steps=[GuidanceStep(step_id=uuid.UUID(int=0x66), title_zh="申请备案", due_on=date(2026, 12, 20))],
                set_by="officer-9",
                set_at=at,
            ),
            9,
            subject=str(uuid.UUID(int=0x65)),
        ),
        published(
            "credit",
            InstitutionGradedV1(
                institution_id=INSTITUTION, grade="B", previous_grade="A", score=78.5, policy_version="v1", graded_at=at
            ),
            10,
        ),
        published(
            "credit",
            PersonBannedV1(
                person_ref=PERSON,
                reason="虐童",
                legal_basis="《中华人民共和国未成年人保护法》第六十二条",
                banned_at=at,
                cause_event_id=str(uuid.UUID(int=0x5E06)),
            ),
            11,
            subject=PERSON,
        ),
    ]


def wire(envelope: CloudEvent, *, next_version: bool) -> tuple[bytes, bytes]:
    """The Kafka record of ``envelope``, as today's producer writes it or as one version ahead would:
    a new optional field at every nesting level of the payload and a new extension attribute."""
    body = json.loads(envelope.to_json())
    if next_version:
        body["data"] = with_future_fields(CATALOGUE[envelope.type], body["data"])
        body[FUTURE_EXTENSION] = "v2"
    return envelope.subject.encode(), json.dumps(body, ensure_ascii=False).encode()


def topic_of(envelope: CloudEvent) -> str:
    return TOPIC_OF[envelope.source.rsplit("/", 1)[-1]]


@pytest.fixture
def service_database(pg: LocalPostgres) -> Iterator[Callable[[str], tuple[str, str]]]:
    """``service_database("credit")`` -> (runtime role's URL, superuser's URL) of a new migrated database."""
    created: list[str] = []

    def make(service: str) -> tuple[str, str]:
        name = f"t_{service}_{uuid.uuid4().hex[:10]}"
        created.append(name)
        return pg.create_service_database(name, service, template=f"tpl_{service}"), pg.url(name)

    yield make
    for name in created:
        pg.drop_database(name)


Snapshot = dict[str, list[dict[str, Any]]]


async def snapshot(superuser_url: str) -> Snapshot:
    """Every row of every table but the processing's bookkeeping, as JSON."""
    db = Database(superuser_url, pool_size=1)
    try:
        async with db.transaction() as session:
            tables = (
                await session.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
                    )
                )
            ).scalars()
            result: Snapshot = {}
            for table in [t for t in tables if not t.startswith(BOOKKEEPING_TABLES)]:
                result[table] = list((await session.execute(text(f'SELECT to_jsonb(t) FROM "{table}" t'))).scalars())
            return result
    finally:
        await db.dispose()


def _sorted(values: list[Any]) -> list[Any]:
    return sorted(values, key=lambda v: json.dumps(v, sort_keys=True))


def run_specific(first: Snapshot, second: Snapshot) -> dict[str, set[str]]:
    """Per table, the columns whose values differ between two runs of the very same events: what the
    processing itself writes (the wall-clock time of a write, an id generated for a new row)."""
    assert first.keys() == second.keys()
    varying: dict[str, set[str]] = {}
    for table, rows in first.items():
        assert len(rows) == len(second[table]), (table, len(rows), len(second[table]))
        columns = {c for row in rows + second[table] for c in row}
        varying[table] = {
            c for c in columns if _sorted([r.get(c) for r in rows]) != _sorted([r.get(c) for r in second[table]])
        }
    return varying


def deterministic(state: Snapshot, varying: dict[str, set[str]]) -> Snapshot:
    """``state`` without the run-specific columns, each table's rows in a stable order."""
    return {
        table: _sorted([{c: v for c, v in row.items() if c not in varying.get(table, set())} for row in rows])
        for table, rows in state.items()
    }


def differences(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """Per table, what differs (for the failure message)."""
    found: dict[str, Any] = {}
    for table in sorted(set(a) | set(b)):
        rows_a, rows_b = a.get(table, []), b.get(table, [])
        if rows_a != rows_b:
            found[table] = {
                "only today": [r for r in rows_a if r not in rows_b],
                "only next": [r for r in rows_b if r not in rows_a],
            }
    return found


async def consumed(kafka: LocalKafka, runners: list[ConsumerRunner]) -> bool:
    for runner in runners:
        lags = await group_lag(admin_access(kafka.bootstrap), runner.group_id, runner.topics)
        if not lags or any(lag.lag for lag in lags):
            return False
    return True


async def run(
    kafka: LocalKafka,
    service: str,
    urls: tuple[str, str],
    records: list[tuple[str, tuple[bytes, bytes]]],
    *,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
) -> tuple[list[ConsumerRunner], set[str]]:
    """Start ``service`` alone on a fresh namespace, feed it ``records`` through the broker, wait until
    its consumers committed past every one; returns its consumers and the event ids in its inbox.
    Fails if anything was dead-lettered."""
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    async with Platform(kafka.bootstrap, namespace, {service: urls[0]}) as p:
        if prepare is not None:
            await prepare(p.dbs[service])

        async def topics_ready() -> bool:
            return bool(p.apps[service].state.runtime.topics_ready.is_set())

        await eventually(topics_ready)
        for topic, record in records:
            await produce_raw(kafka.bootstrap, p.topic(topic), [record])
        runners: list[ConsumerRunner] = p.apps[service].state.runtime.consumers

        async def caught_up() -> bool:
            return await consumed(kafka, runners)

        await eventually(caught_up, within=60)
        for runner in runners:
            dead = await read_topic(kafka.bootstrap, runner.dead_letter_topic)
            assert dead == [], [(r.headers, r.value[:300]) for r in dead]
        async with p.dbs[service].transaction() as session:
            inbox = set((await session.execute(text("SELECT event_id FROM inbox"))).scalars())
    return runners, inbox


SERVICES = ["filing", "inspection", "credit", "reporting"]


async def file_the_institution(db: Database) -> None:
    """The filing service's own row of the institution the story is about (its directory shows
    the grade and inspection result the story's events carry)."""
    async with db.transaction() as session:
        await insert_filed_institution(
            session, id=INSTITUTION, uscc=USCC, submitted_at=T0, decided_at=T0, filed_at=T0, name="越秀区向日葵托育中心"
        )


# The ledger records each event exactly as published (docs/events.md: the original, new fields and all),
# so its leaves and hashes differ by design; its entries are compared by identity instead.
LEDGER_TABLES = {"ledger_entry", "ledger_node", "ledger_head", "ledger_checkpoint"}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_consumer_applies_events_of_the_next_version_as_todays(
    kafka: LocalKafka, service_database: Callable[[str], tuple[str, str]], service: str
) -> None:
    """Today's events twice (what differs between those two runs is the processing's own: times of
    writing, generated ids), then the next version's: every other column of every table must come
    out the same, every handled event applied, nothing dead-lettered."""
    events = story()
    prepare = file_the_institution if service == "filing" else None
    states: list[Snapshot] = []
    inboxes: list[set[str]] = []
    for next_version in (False, False, True):
        urls = service_database(service)
        records = [(topic_of(e), wire(e, next_version=next_version)) for e in events]
        runners, inbox = await run(kafka, service, urls, records, prepare=prepare)
        states.append(await snapshot(urls[1]))
        inboxes.append(inbox)
    today, again, next_version_state = states

    handled = {e.id for e in events if any(e.type in r.handlers for r in runners)}
    assert handled, f"the story exercises none of {service}'s handlers"
    assert inboxes[0] >= handled  # every handled event applied (the inbox records it)
    assert inboxes[2] == inboxes[1] == inboxes[0]

    ledger = {t: today.pop(t) for t in LEDGER_TABLES & today.keys()}
    ledger_next = {t: next_version_state.pop(t) for t in LEDGER_TABLES & next_version_state.keys()}
    for t in LEDGER_TABLES & again.keys():
        again.pop(t)
    if service == "reporting":
        entries = [
            {(e["event_id"], e["event_type"], e["subject"]) for e in x["ledger_entry"]} for x in (ledger, ledger_next)
        ]
        assert entries[0] == entries[1] == {(e.id, e.type, e.subject) for e in events}

    varying = run_specific(today, again)
    expected = deterministic(today, varying)
    assert any(row for rows in expected.values() for row in rows), f"nothing of {service}'s state is compared"
    assert deterministic(next_version_state, varying) == expected, differences(
        expected, deterministic(next_version_state, varying)
    )


async def query(url: str, sql: str, **params: Any) -> list[Any]:
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            return list((await session.execute(text(sql), params)).all())
    finally:
        await db.dispose()


# --- N−1: an older version, upcast ------------------------------------------------------------------

GRADED_V0 = "cn.gov.gz.childcare.credit.institution.graded.v0"


@pytest.fixture
def graded_v0_upcaster() -> Iterator[None]:
    """No upcaster of a type a service consumes is registered in the catalogue (docs/events.md: the
    only one lifts the ledger topic's ``entry_shared.v1``, which only the rebuild reads), so this
    registers one, for the test only, as the procedure there would: an older wire form of a type
    today's consumers handle, ``institution.graded.v0``, whose grade was called ``level`` and whose score was kept in
    tenths of a point, lifted to ``graded.v1``."""

    @upcaster(GRADED_V0, InstitutionGradedV1.event_type)
    def graded_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "institution_id": data["institution_id"],
            "grade": data["level"],
            "previous_grade": data.get("previous_level"),
            "score": data["score_tenths"] / 10,
            "policy_version": data["policy_version"],
            "graded_at": data["graded_at"],
        }

    yield
    UPCASTERS.pop(GRADED_V0)


async def test_an_event_of_the_previous_version_is_upcast_and_applied_by_todays_consumer(
    kafka: LocalKafka, service_database: Callable[[str], tuple[str, str]], graded_v0_upcaster: None
) -> None:
    institution = uuid.UUID(int=0x7001)
    old = CloudEvent(
        id=str(uuid.UUID(int=0x7002)),
        source="/services/credit",
        type=GRADED_V0,
        time=T0,
        subject=str(institution),
        data={
            "institution_id": str(institution),
            "level": "C",
            "previous_level": "B",
            "score_tenths": 655,
            "policy_version": "v1",
            "graded_at": T0.isoformat(),
        },
    )
    urls = service_database("inspection")
    _, inbox = await run(kafka, "inspection", urls, [(CREDIT_EVENTS, (old.subject.encode(), old.to_json().encode()))])
    assert old.id in inbox  # applied (and nothing dead-lettered: run() checks)
    rows = await query(urls[0], "SELECT grade FROM target_grade WHERE institution_id = :id", id=institution)
    assert [r.grade for r in rows] == ["C"]


# --- the rolling deploy of outdoor_area_m2 ------------------------------------------------------------


async def test_a_consumer_without_the_new_profile_field_applies_filed_events_carrying_it(
    kafka: LocalKafka, service_database: Callable[[str], tuple[str, str]]
) -> None:
    new_field = field_unknown_to_todays_profile()
    filed = next(e for e in story() if e.type == InstitutionFiledV1.event_type)
    body = json.loads(filed.to_json())
    body["data"]["profile"][new_field] = 120.5  # as the next version's filing service publishes it
    with pytest.raises(ValidationError, match=new_field):  # today's model really does not know it
        InstitutionFiledV1.model_validate(body["data"])

    urls = service_database("inspection")
    _, inbox = await run(
        kafka, "inspection", urls, [(FILING_EVENTS, (filed.subject.encode(), json.dumps(body).encode()))]
    )
    assert filed.id in inbox  # applied, not dead-lettered (run() fails on any dead letter)
    rows = await query(
        urls[0], "SELECT name, status, profile FROM target_institution WHERE institution_id = :id", id=INSTITUTION
    )
    expected = json.loads(filed.to_json())["data"]["profile"]
    assert [(r.name, r.status) for r in rows] == [(expected["name"], "filed")]
    # the profile as this consumer knows it: exactly what it stores for the same event without the field
    assert (
        rows[0].profile == filed.data["profile"] == InstitutionProfile.model_validate(expected).model_dump(mode="json")
    )
    assert new_field not in rows[0].profile
