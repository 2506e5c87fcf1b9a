"""Staff roster (从业人员): hiring, leaving, the industry-ban check, staffing ratios and the rule that a
resident ID number never leaves the service in clear.

API tests run against real PostgreSQL inside a rolled-back transaction with the relay and consumers
off; the ban flow runs end to end through the real Kafka broker.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from devstack.kafka import LocalKafka
from services.filing.staff import repository as staff_repository
from services.filing.staff import service as staff_service
from services.filing.staff.consumers import handlers as staff_handlers
from services.filing.staff.models import BannedPerson, StaffingStatus, StaffMember
from shared.app import ServiceContext
from shared.auth import mint_token
from shared.db import Database
from shared.events import DecodedEvent, EventData, decode
from shared.events.credit import PersonBanLiftedV1, PersonBannedV1
from shared.events.filing import (
    StaffHiredV1,
    StaffingShortfallClearedV1,
    StaffingShortfallFlaggedV1,
    StaffLeftV1,
)
from shared.identifiers import resident_id_check_char
from shared.metrics import Metrics
from shared.outbox import Outbox, outbox_table
from shared.pii import mask_resident_id
from shared.settings import ServiceSettings
from shared.topics import CREDIT_EVENTS, FILING_EVENTS
from shared.workdays import china_today
from tests.filing.support import insert_filed_institution
from tests.support import Platform, create_app, eventually, produce_raw, read_topic, running, settings_for, token

TIANHE = "440106"  # the district of tests.filing.support.insert_filed_institution
YUEXIU = "440104"
TODAY = china_today()


def officer(*districts: str, subject: str = "officer-tianhe-01") -> dict[str, str]:
    settings = ServiceSettings(environment="test")
    jwt = mint_token(settings, subject=subject, roles=["filing_officer"], districts=list(districts))
    return {"Authorization": f"Bearer {jwt}"}


OFFICER = officer(TIANHE)
OTHER_DISTRICT_OFFICER = officer(YUEXIU, subject="officer-yuexiu-01")
SUPERVISOR = token("supervisor")
VAULT = staff_service.vault_for(settings_for("filing"))


def resident_id(serial: int, birth: str = "19900101") -> str:
    first17 = f"440106{birth}{serial % 1000:03d}"
    return first17 + resident_id_check_char(first17)


_serial = itertools.count(1)


def new_id() -> str:
    """A valid ID number not used before in this test run."""
    n = next(_serial)
    return resident_id(n % 1000, birth=f"{1980 + n // 1000}0315")


def hire_body(id_number: str, role: str = "carer", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "李小红",
        "id_number": id_number,
        "role": role,
        "certificates": [{"kind": "保育师证", "number": "BY-2024-00017", "expires_on": "2029-06-30"}],
        "health_certificate_expires_on": (TODAY + timedelta(days=300)).isoformat(),
        "training": [{"hours": 8, "date": (TODAY - timedelta(days=60)).isoformat(), "topic": "婴幼儿急救"}],
        "hired_on": (TODAY - timedelta(days=7)).isoformat(),
    }
    body.update(overrides)
    return body


def has_chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


@pytest.fixture
async def filing(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


async def institution(db: Database, **overrides: Any) -> uuid.UUID:
    async with db.transaction() as session:
        return await insert_filed_institution(session, **overrides)


async def outbox_events(db: Database) -> list[DecodedEvent]:
    async with db.transaction() as session:
        rows = (await session.execute(select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars().all()
    return [decode(p.encode()) for p in rows]


async def outbox_payloads(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list((await session.execute(select(outbox_table.c.payload))).scalars().all())


async def staff_count(db: Database, institution_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(StaffMember)
    if institution_id is not None:
        query = query.where(StaffMember.institution_id == institution_id)
    async with db.transaction() as session:
        return int((await session.execute(query)).scalar_one())


async def hire(client: httpx.AsyncClient, institution_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/v1/institutions/{institution_id}/staff", json=body, headers=OFFICER)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def ban_event(person_ref: str, *, until: date | None = None, banned_at: datetime | None = None) -> PersonBannedV1:
    return PersonBannedV1(
        person_ref=person_ref,
        reason="经查实虐待婴幼儿",
        legal_basis="《中华人民共和国未成年人保护法》第六十二条",
        banned_at=banned_at or datetime.now(UTC),
        until=until,
        cause_event_id=str(uuid.uuid4()),
    )


async def apply_credit_event(db: Database, data: EventData) -> None:
    """Run the filing consumer's handler for a credit event, as the consumer runner would."""
    settings = settings_for("filing")
    ctx = ServiceContext(settings=settings, db=db, outbox=Outbox(source=settings.source), metrics=Metrics("filing"))
    envelope = Outbox(source="/services/credit").envelope(data, subject=getattr(data, "person_ref", "x"))
    async with db.transaction() as session:
        await staff_handlers(ctx)[data.event_type](session, DecodedEvent(envelope=envelope, data=data))


# --- hiring ---------------------------------------------------------------------------------------


async def test_hire_stores_encrypted_id_returns_masked_and_emits_pseudonymous_event(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    institution_id = await institution(db)
    clear = resident_id(123)
    # Typed with a Chinese IME: full-width digits and spaces are normalised, not refused.
    typed = " " + clear[:6].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + " " + clear[6:]

    response = await client.post(f"/v1/institutions/{institution_id}/staff", json=hire_body(typed), headers=OFFICER)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id_masked"] == mask_resident_id(clear) == "440106********" + clear[-4:]
    assert "id_number" not in body
    assert clear not in response.text
    assert body["role"] == "carer"
    assert body["role_zh"] == "保育人员"
    assert body["active"] is True
    assert body["left_on"] is None
    assert body["training_hours"] == 8
    assert body["person_ref"] == VAULT.person_ref(clear)
    assert response.headers["location"] == f"/v1/institutions/{institution_id}/staff/{body['id']}"

    hired = [e for e in await outbox_events(db) if isinstance(e.data, StaffHiredV1)]
    assert len(hired) == 1
    event = hired[0]
    assert isinstance(event.data, StaffHiredV1)
    assert event.envelope.subject == str(institution_id)
    assert event.data.institution_id == institution_id
    assert str(event.data.staff_id) == body["id"]
    assert event.data.person_ref == VAULT.person_ref(clear)
    assert event.data.id_masked == mask_resident_id(clear)
    assert event.data.role == "carer"
    assert [c.kind for c in event.data.certificates] == ["保育师证"]
    assert event.data.training_hours == 8  # what the statistics count as trained staff
    assert event.data.health_certificate_expires_on == TODAY + timedelta(days=300)
    for payload in await outbox_payloads(db):
        assert clear not in payload

    async with db.transaction() as session:
        row = (await session.execute(select(StaffMember).where(StaffMember.id == uuid.UUID(body["id"])))).scalar_one()
        stored = (
            await session.execute(
                text("SELECT row_to_json(s)::text FROM staff_member s WHERE id = :id"), {"id": row.id}
            )
        ).scalar_one()
    assert clear not in stored, "the clear number is not stored"
    assert VAULT.decrypt(row.id_number_encrypted) == clear


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        (resident_id(5)[:-1] + ("0" if resident_id(5)[-1] != "0" else "1"), "resident_id_checksum"),
        (resident_id(6, birth="19900230"), "resident_id_birthdate"),  # 30 February; check digit is right
        (resident_id(7, birth="20991231"), "resident_id_birthdate"),  # born in the future
        (resident_id(8)[:15], "resident_id_length"),
        ("44010619900101ABCD", "resident_id_format"),
    ],
)
async def test_invalid_id_number_is_a_422_naming_it_and_writes_nothing(
    filing: tuple[httpx.AsyncClient, Database], id_number: str, code: str
) -> None:
    client, db = filing
    institution_id = await institution(db)

    response = await client.post(f"/v1/institutions/{institution_id}/staff", json=hire_body(id_number), headers=OFFICER)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("id_number", code)
    assert has_chinese(error["message"])
    assert id_number not in response.text, "the error never echoes the number"
    assert await staff_count(db) == 0
    assert await outbox_payloads(db) == []


async def test_expired_health_certificate_is_refused(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    institution_id = await institution(db)
    body = hire_body(new_id(), health_certificate_expires_on=(TODAY - timedelta(days=1)).isoformat())

    response = await client.post(f"/v1/institutions/{institution_id}/staff", json=body, headers=OFFICER)

    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("health_certificate_expires_on", "health_certificate_expired")
    assert "健康证明" in error["message"]
    assert await staff_count(db) == 0

    valid_today = hire_body(new_id(), health_certificate_expires_on=TODAY.isoformat())
    ok = await client.post(f"/v1/institutions/{institution_id}/staff", json=valid_today, headers=OFFICER)
    assert ok.status_code == 201, "a certificate is valid through its expiry day"


async def test_hire_needs_a_filed_institution_in_the_officers_district(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    submitted = await institution(db, status="submitted", filed_at=None, decided_at=None)
    filed = await institution(db)

    not_filed = await client.post(f"/v1/institutions/{submitted}/staff", json=hire_body(new_id()), headers=OFFICER)
    assert not_filed.status_code == 409
    assert not_filed.json()["error"]["code"] == "institution_not_filed"
    assert has_chinese(not_filed.json()["error"]["message"])

    for headers in (OTHER_DISTRICT_OFFICER, officer()):
        out_of_scope = await client.post(f"/v1/institutions/{filed}/staff", json=hire_body(new_id()), headers=headers)
        assert out_of_scope.status_code == 403
        assert out_of_scope.json()["error"]["code"] == "district_out_of_scope"

    supervisor = await client.post(f"/v1/institutions/{filed}/staff", json=hire_body(new_id()), headers=SUPERVISOR)
    assert supervisor.status_code == 403
    assert supervisor.json()["error"]["code"] == "role_required"

    unknown = await client.post(f"/v1/institutions/{uuid.uuid4()}/staff", json=hire_body(new_id()), headers=OFFICER)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "institution_not_found"

    assert await staff_count(db) == 0
    assert await outbox_payloads(db) == []


async def test_same_person_cannot_be_employed_twice_at_once(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    first_institution = await institution(db)
    second_institution = await institution(db)
    person = new_id()
    first = await hire(client, first_institution, hire_body(person))

    again = await client.post(
        f"/v1/institutions/{first_institution}/staff", json=hire_body(person, role="cook"), headers=OFFICER
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_employed"
    assert again.json()["error"]["field"] == "id_number"
    assert await staff_count(db, first_institution) == 1

    # Another institution may employ the same person (part-time work is not forbidden).
    await hire(client, second_institution, hire_body(person))

    # Once the person has left, the first institution may hire them again.
    left = await client.delete(f"/v1/institutions/{first_institution}/staff/{first['id']}", headers=OFFICER)
    assert left.status_code == 200, left.text
    rehired = await hire(client, first_institution, hire_body(person))
    assert rehired["id"] != first["id"]


# --- leaving --------------------------------------------------------------------------------------


async def test_leave_keeps_the_record_emits_an_event_and_cannot_repeat(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    institution_id = await institution(db)
    person = new_id()
    hired = await hire(client, institution_id, hire_body(person))
    url = f"/v1/institutions/{institution_id}/staff/{hired['id']}"

    too_early = await client.delete(url, params={"left_on": (TODAY - timedelta(days=30)).isoformat()}, headers=OFFICER)
    assert too_early.status_code == 422
    assert (too_early.json()["error"]["field"], too_early.json()["error"]["code"]) == ("left_on", "left_before_hired")
    out_of_scope = await client.delete(url, headers=OTHER_DISTRICT_OFFICER)
    assert out_of_scope.status_code == 403
    assert out_of_scope.json()["error"]["code"] == "district_out_of_scope"

    response = await client.delete(url, params={"reason": "合同到期"}, headers=OFFICER)
    assert response.status_code == 200, response.text
    assert response.json()["left_on"] == TODAY.isoformat()
    assert response.json()["left_reason"] == "合同到期"
    assert response.json()["active"] is False

    left = [e.data for e in await outbox_events(db) if isinstance(e.data, StaffLeftV1)]
    assert len(left) == 1
    assert left[0].person_ref == VAULT.person_ref(person)
    assert str(left[0].staff_id) == hired["id"]
    assert left[0].left_on == TODAY
    assert left[0].reason == "合同到期"

    again = await client.delete(url, headers=OFFICER)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_left"
    assert len([e for e in await outbox_events(db) if isinstance(e.data, StaffLeftV1)]) == 1

    active = (await client.get(f"/v1/institutions/{institution_id}/staff", headers=OFFICER)).json()
    assert active["items"] == []
    history = (
        await client.get(f"/v1/institutions/{institution_id}/staff", params={"include_left": True}, headers=OFFICER)
    ).json()
    assert [i["id"] for i in history["items"]] == [hired["id"]]

    unknown = await client.delete(f"/v1/institutions/{institution_id}/staff/{uuid.uuid4()}", headers=OFFICER)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "staff_not_found"


# --- staffing ratios ------------------------------------------------------------------------------


def test_required_carers_follow_the_class_ratios() -> None:
    ratios = staff_service.carer_ratios(settings_for("filing"))
    assert ratios == {"infant": 3, "toddler": 5, "older": 7, "mixed": 5}
    classes = [
        {"class_type": "infant", "size": 10},  # ceil(10/3) = 4
        {"class_type": "toddler", "size": 15},  # 3
        {"class_type": "older", "size": 20},  # ceil(20/7) = 3
        {"class_type": "mixed", "size": 18},  # ceil(18/5) = 4
    ]
    assert staff_service.required_carers(classes, ratios) == 14
    assert staff_service.required_carers([{"class_type": "mixed", "size": 18}], {**ratios, "mixed": 6}) == 3
    required, shortfalls = staff_service.assess_staffing(classes, {"carer": 14, "principal": 1, "health": 1}, ratios)
    assert (required, shortfalls) == (14, [])


async def test_shortfall_is_flagged_on_change_and_cleared_when_compliant(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    # One 托小班 of 10 children: two carers (1:5), a principal and a health worker are needed.
    institution_id = await institution(db, classes=[{"class_type": "toddler", "size": 10}], puhui_slots=5)

    async def staffing_events() -> list[EventData]:
        return [
            e.data
            for e in await outbox_events(db)
            if isinstance(e.data, StaffingShortfallFlaggedV1 | StaffingShortfallClearedV1)
        ]

    def codes(data: EventData) -> list[tuple[str, int | None, int | None]]:
        assert isinstance(data, StaffingShortfallFlaggedV1)
        assert data.institution_id == institution_id
        assert all(has_chinese(s.detail) for s in data.shortfalls)
        return [(s.code, s.required, s.actual) for s in data.shortfalls]

    await hire(client, institution_id, hire_body(new_id(), role="principal"))
    events = await staffing_events()
    assert len(events) == 1
    assert codes(events[0]) == [("carer_ratio", 2, 0), ("no_health_staff", 1, 0)]

    await hire(client, institution_id, hire_body(new_id(), role="health"))
    events = await staffing_events()
    assert len(events) == 2
    assert codes(events[1]) == [("carer_ratio", 2, 0)]

    await hire(client, institution_id, hire_body(new_id(), role="cook"))
    assert len(await staffing_events()) == 2, "an unchanged shortfall emits nothing"

    first_carer = await hire(client, institution_id, hire_body(new_id(), role="carer"))
    events = await staffing_events()
    assert len(events) == 3
    assert codes(events[2]) == [("carer_ratio", 2, 1)]

    staffing = (await client.get(f"/v1/institutions/{institution_id}/staffing", headers=SUPERVISOR)).json()
    assert staffing["compliant"] is False
    assert (staffing["required_carers"], staffing["active_carers"]) == (2, 1)
    assert staffing["shortfalls"][0]["code"] == "carer_ratio"

    await hire(client, institution_id, hire_body(new_id(), role="carer"))
    events = await staffing_events()
    assert len(events) == 4
    assert isinstance(events[3], StaffingShortfallClearedV1)
    assert events[3].institution_id == institution_id

    await hire(client, institution_id, hire_body(new_id(), role="security"))
    assert len(await staffing_events()) == 4, "staying compliant emits nothing"
    staffing = (await client.get(f"/v1/institutions/{institution_id}/staffing", headers=SUPERVISOR)).json()
    assert staffing["compliant"] is True
    assert staffing["shortfalls"] == []

    left = await client.delete(f"/v1/institutions/{institution_id}/staff/{first_carer['id']}", headers=OFFICER)
    assert left.status_code == 200
    events = await staffing_events()
    assert len(events) == 5
    assert codes(events[4]) == [("carer_ratio", 2, 1)]

    async with db.transaction() as session:
        status = await session.get(StaffingStatus, institution_id)
    assert status is not None
    assert status.compliant is False
    assert [s["code"] for s in status.shortfalls] == ["carer_ratio"]


async def test_a_roster_is_hired_all_or_none_and_its_staffing_assessed_once(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    # One 托小班 of 10 children: two carers (1:5), a principal and a health worker are needed.
    institution_id = await institution(db, classes=[{"class_type": "toddler", "size": 10}], puhui_slots=5)
    kept_out = await institution(db, classes=[{"class_type": "toddler", "size": 10}], puhui_slots=5)
    person = new_id()
    roster = [hire_body(person, role="principal")] + [hire_body(new_id(), role=r) for r in ("health", "carer")]

    # one person refused refuses the roster: the error names the person, nobody is hired
    twice = await client.post(
        f"/v1/institutions/{kept_out}/staff/roster",
        json={"items": [*roster, hire_body(person, role="cook")]},
        headers=OFFICER,
    )
    assert twice.status_code == 409, twice.text
    assert twice.json()["error"]["code"] == "already_employed"
    assert twice.json()["error"]["field"] == "items.3.id_number"
    assert await staff_count(db, kept_out) == 0
    refused = await client.post(
        f"/v1/institutions/{institution_id}/staff/roster", json={"items": roster}, headers=OTHER_DISTRICT_OFFICER
    )
    assert refused.status_code == 403, refused.text
    assert (
        await client.post(f"/v1/institutions/{institution_id}/staff/roster", json={"items": []}, headers=OFFICER)
    ).status_code == 422

    response = await client.post(
        f"/v1/institutions/{institution_id}/staff/roster", json={"items": roster}, headers=OFFICER
    )
    assert response.status_code == 201, response.text
    hired = response.json()
    assert hired["total"] == 3
    assert [(s["role"], s["id_masked"]) for s in hired["items"]] == [
        (body["role"], mask_resident_id(body["id_number"])) for body in roster
    ]
    assert await staff_count(db, institution_id) == 3
    events = [e.data for e in await outbox_events(db)]
    assert [e.person_ref for e in events if isinstance(e, StaffHiredV1)] == [s["person_ref"] for s in hired["items"]]
    # assessed once, on the roster as it stands: one carer short, flagged once (not once per person)
    flagged = [e for e in events if isinstance(e, StaffingShortfallFlaggedV1 | StaffingShortfallClearedV1)]
    assert len(flagged) == 1
    assert isinstance(flagged[0], StaffingShortfallFlaggedV1)
    assert [(s.code, s.required, s.actual) for s in flagged[0].shortfalls] == [("carer_ratio", 2, 1)]
    roster_now = (await client.get(f"/v1/institutions/{institution_id}/staff", headers=SUPERVISOR)).json()
    assert sorted(s["id"] for s in roster_now["items"]) == sorted(s["id"] for s in hired["items"])


async def test_a_roster_is_refused_at_its_first_refused_person_and_nothing_of_it_is_written(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    institution_id = await institution(db)
    banned = new_id()
    await apply_credit_event(db, ban_event(VAULT.person_ref(banned)))
    twice = new_id()
    outbox_before = await outbox_payloads(db)

    async def refused(items: list[dict[str, Any]]) -> tuple[int, str, str]:
        response = await client.post(
            f"/v1/institutions/{institution_id}/staff/roster", json={"items": items}, headers=OFFICER
        )
        error = response.json()["error"]
        assert has_chinese(error["message"])
        return response.status_code, error["code"], error["field"]

    # the same person twice: already employed at the second mention, as if hired one after the other
    assert await refused(
        [hire_body(twice, role="principal"), hire_body(new_id()), hire_body(twice, role="cook"), hire_body(new_id())]
    ) == (409, "already_employed", "items.2.id_number")
    # a banned person in the middle, before a person refused for another reason: the banned one is named
    in_future = (TODAY + timedelta(days=1)).isoformat()
    assert await refused(
        [hire_body(new_id(), role="principal"), hire_body(banned), hire_body(new_id(), hired_on=in_future)]
    ) == (409, "person_banned", "items.1.id_number")
    # each person's own checks in a hire's order: an expired health certificate before the ban
    expired = (TODAY - timedelta(days=1)).isoformat()
    assert await refused(
        [hire_body(new_id()), hire_body(banned, health_certificate_expires_on=expired), hire_body(twice)]
    ) == (422, "health_certificate_expired", "items.1.health_certificate_expires_on")
    # a banned person listed twice is refused as banned, at the first mention
    assert await refused([hire_body(new_id()), hire_body(banned), hire_body(banned)]) == (
        409,
        "person_banned",
        "items.1.id_number",
    )
    assert await staff_count(db, institution_id) == 0
    assert await outbox_payloads(db) == outbox_before

    # the same people without the refused ones: all hired, in their order, one event each in that order
    items = [hire_body(twice, role="principal"), hire_body(new_id(), role="health"), hire_body(new_id())]
    response = await client.post(
        f"/v1/institutions/{institution_id}/staff/roster", json={"items": items}, headers=OFFICER
    )
    assert response.status_code == 201, response.text
    hired = response.json()["items"]
    assert [s["id_masked"] for s in hired] == [mask_resident_id(body["id_number"]) for body in items]
    events = [e.data for e in await outbox_events(db) if isinstance(e.data, StaffHiredV1)]
    assert [str(e.staff_id) for e in events] == [s["id"] for s in hired]
    listed = (await client.get(f"/v1/institutions/{institution_id}/staff", headers=SUPERVISOR)).json()["items"]
    assert sorted(listed, key=lambda s: str(s["id"])) == sorted(hired, key=lambda s: str(s["id"]))


async def test_the_roster_insert_leaves_out_a_person_hired_meanwhile(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    """The look-ups before the insert can miss a hire committed after them (a concurrent request):
    the insert itself then leaves that person out (ON CONFLICT on the active-employment index), and
    the roster is refused naming that person."""
    client, db = filing
    institution_id = await institution(db)
    person = new_id()
    await hire(client, institution_id, hire_body(person))

    def row(id_number: str) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "institution_id": institution_id,
            "name": "王芳",
            "person_ref": VAULT.person_ref(id_number),
            "id_number_encrypted": VAULT.encrypt(id_number),
            "id_masked": mask_resident_id(id_number),
            "role": "carer",
            "certificates": [],
            "health_certificate_expires_on": TODAY + timedelta(days=30),
            "training": [],
            "hired_on": TODAY,
            "hired_by": "officer-tianhe-01",
        }

    rows = [row(new_id()), row(person), row(new_id())]
    assert set(staff_repository.HIRED_COLUMNS) == set(rows[0])
    async with db.transaction() as session:
        inserted = await staff_repository.insert_staff_unless_employed(session, rows)
    assert inserted == {rows[0]["id"], rows[2]["id"]}
    assert await staff_count(db, institution_id) == 3


# --- who sees the clear ID number -----------------------------------------------------------------


async def test_clear_id_only_in_the_detail_view_of_a_filing_officer_of_the_district(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    institution_id = await institution(db)
    clear = new_id()
    hired = await hire(client, institution_id, hire_body(clear))
    url = f"/v1/institutions/{institution_id}/staff/{hired['id']}"

    authorised = await client.get(url, headers=OFFICER)
    assert authorised.status_code == 200
    assert authorised.json()["id_number"] == clear
    assert authorised.json()["id_masked"] == mask_resident_id(clear)

    # an officer of another district reads nothing of the institution's staff (issue 16, finding 5)
    other = await client.get(url, headers=OTHER_DISTRICT_OFFICER)
    assert (other.status_code, other.json()["error"]["code"]) == (403, "district_out_of_scope")
    assert clear not in other.text
    for headers in (SUPERVISOR, token("ops")):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200
        assert response.json()["id_number"] is None
        assert response.json()["id_masked"] == mask_resident_id(clear)
        assert clear not in response.text

    roster = await client.get(f"/v1/institutions/{institution_id}/staff", headers=OFFICER)
    assert roster.status_code == 200
    assert [i["id_masked"] for i in roster.json()["items"]] == [mask_resident_id(clear)]
    assert clear not in roster.text

    assert (await client.get(url, headers=token("inspector"))).status_code == 403
    missing = await client.get(f"/v1/institutions/{institution_id}/staff/{uuid.uuid4()}", headers=OFFICER)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "staff_not_found"


async def test_clear_id_is_nowhere_in_events_roster_errors_or_logs(
    filing: tuple[httpx.AsyncClient, Database], caplog: pytest.LogCaptureFixture
) -> None:
    client, db = filing
    caplog.set_level(logging.DEBUG)
    first_institution = await institution(db)
    second_institution = await institution(db)
    clear = new_id()
    banned_clear = new_id()
    # A certificate numbered with the holder's ID number (common for some certificates) is masked too.
    body = hire_body(clear, certificates=[{"kind": "健康证", "number": clear, "expires_on": None}])
    await apply_credit_event(db, ban_event(VAULT.person_ref(banned_clear)))

    responses: list[httpx.Response] = []
    hired = await client.post(f"/v1/institutions/{first_institution}/staff", json=body, headers=OFFICER)
    assert hired.status_code == 201
    staff_id = hired.json()["id"]
    assert hired.json()["certificates"][0]["number"] == mask_resident_id(clear)
    responses.append(hired)
    responses.append(await client.post(f"/v1/institutions/{first_institution}/staff", json=body, headers=OFFICER))
    responses.append(await client.post(f"/v1/institutions/{second_institution}/staff", json=body, headers=OFFICER))
    responses.append(
        await client.post(f"/v1/institutions/{first_institution}/staff", json=hire_body(banned_clear), headers=OFFICER)
    )
    responses.append(
        await client.post(
            f"/v1/institutions/{first_institution}/staff",
            json=hire_body(clear[:-1] + ("X" if clear[-1] != "X" else "0")),
            headers=OFFICER,
        )
    )
    for headers in (OFFICER, SUPERVISOR, token("ops")):
        responses.append(await client.get(f"/v1/institutions/{first_institution}/staff", headers=headers))
        responses.append(
            await client.get(
                f"/v1/institutions/{first_institution}/staff", params={"include_left": True}, headers=headers
            )
        )
    responses.append(await client.get(f"/v1/institutions/{first_institution}/staff/{staff_id}", headers=SUPERVISOR))
    responses.append(await client.get(f"/v1/institutions/{first_institution}/staffing", headers=SUPERVISOR))
    # The authorised view (its response is the one place the number may appear) must not log it either.
    authorised = await client.get(f"/v1/institutions/{first_institution}/staff/{staff_id}", headers=OFFICER)
    assert authorised.json()["id_number"] == clear
    responses.append(await client.delete(f"/v1/institutions/{first_institution}/staff/{staff_id}", headers=OFFICER))
    responses.append(await client.delete(f"/v1/institutions/{first_institution}/staff/{staff_id}", headers=OFFICER))

    assert [r.status_code for r in responses[:5]] == [201, 409, 201, 409, 422]
    payloads = await outbox_payloads(db)
    assert len(payloads) >= 4
    for secret in (clear, banned_clear):
        for payload in payloads:
            assert secret not in payload
        for response in responses:
            assert secret not in response.text, response.request.url
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in repr(record.__dict__)
    assert any("resident ID disclosed" in r.getMessage() for r in caplog.records), "the authorised view is audited"
    async with db.transaction() as session:
        dump = (await session.execute(text("SELECT coalesce(json_agg(s)::text, '') FROM staff_member s"))).scalar_one()
    assert clear not in dump


# --- industry bans (从业禁止) ---------------------------------------------------------------------


async def test_banned_person_cannot_be_hired_and_ban_events_apply_idempotently(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    institution_id = await institution(db)
    person = new_id()
    ref = VAULT.person_ref(person)
    ban = ban_event(ref)
    await apply_credit_event(db, ban)
    await apply_credit_event(db, ban)  # re-delivered with a new envelope: still one ban

    refused = await client.post(f"/v1/institutions/{institution_id}/staff", json=hire_body(person), headers=OFFICER)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "person_banned"
    assert "从业禁止" in error["message"]
    assert ban.reason in error["message"]
    assert ban.legal_basis in error["message"]
    assert "终身" in error["message"]
    assert await staff_count(db) == 0
    assert await outbox_payloads(db) == []

    # in a roster registered at once, the refusal names which person it is
    colleague = hire_body(new_id(), role="carer")
    in_roster = await client.post(
        f"/v1/institutions/{institution_id}/staff/roster",
        json={"items": [colleague, hire_body(person)]},
        headers=OFFICER,
    )
    assert in_roster.status_code == 409, in_roster.text
    assert in_roster.json()["error"]["code"] == "person_banned"
    assert in_roster.json()["error"]["field"] == "items.1.id_number"
    assert await staff_count(db) == 0
    async with db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(BannedPerson))).scalar_one() == 1

    # A ban with an end date in the past no longer blocks.
    expired_person = new_id()
    await apply_credit_event(db, ban_event(VAULT.person_ref(expired_person), until=TODAY - timedelta(days=1)))
    await hire(client, institution_id, hire_body(expired_person))
    running_person = new_id()
    await apply_credit_event(db, ban_event(VAULT.person_ref(running_person), until=TODAY))
    still_banned = await client.post(
        f"/v1/institutions/{institution_id}/staff", json=hire_body(running_person), headers=OFFICER
    )
    assert still_banned.status_code == 409
    assert TODAY.isoformat() in still_banned.json()["error"]["message"]

    # Lifted: hiring is allowed again; an older ban re-sent after the lift does not revive it.
    await apply_credit_event(db, PersonBanLiftedV1(person_ref=ref, lifted_at=datetime.now(UTC), reason="信用修复"))
    await apply_credit_event(db, ban)
    await hire(client, institution_id, hire_body(person))


async def test_ban_from_the_credit_topic_stops_hiring_in_another_institution(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as p:
        client = p.clients["filing"]
        async with p.dbs["filing"].transaction() as session:
            first = await insert_filed_institution(session)
            second = await insert_filed_institution(session, name="天河区小星星托育园")
        person = new_id()
        ref = VAULT.person_ref(person)
        hired = await client.post(f"/v1/institutions/{first}/staff", json=hire_body(person), headers=OFFICER)
        assert hired.status_code == 201, hired.text

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, within=30)
        # The credit service's event, exactly as its outbox relay would publish it.
        credit_outbox = Outbox(source="/services/credit", namespace=namespace)
        ban = ban_event(ref)
        envelope = credit_outbox.envelope(ban, subject=ref)
        await produce_raw(p.bootstrap, p.topic(CREDIT_EVENTS), [(ref.encode(), envelope.to_json().encode())])

        async def ban_applied() -> bool:
            return int(await p.scalar("filing", "SELECT count(*) FROM banned_person WHERE lifted_at IS NULL")) == 1

        await eventually(ban_applied, within=30)
        refused = await client.post(f"/v1/institutions/{second}/staff", json=hire_body(person), headers=OFFICER)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "person_banned"
        assert ban.reason in refused.json()["error"]["message"]
        assert ban.legal_basis in refused.json()["error"]["message"]
        assert (
            int(await p.scalar("filing", "SELECT count(*) FROM staff_member WHERE institution_id = :i", i=second)) == 0
        )

        lifted = PersonBanLiftedV1(person_ref=ref, lifted_at=datetime.now(UTC), reason="禁止期满，信用修复完成")
        await produce_raw(
            p.bootstrap,
            p.topic(CREDIT_EVENTS),
            [(ref.encode(), credit_outbox.envelope(lifted, subject=ref).to_json().encode())],
        )

        async def hired_after_lift() -> bool:
            response = await client.post(f"/v1/institutions/{second}/staff", json=hire_body(person), headers=OFFICER)
            return response.status_code == 201

        await eventually(hired_after_lift, within=30)

        # What left the filing service on Kafka carries the person only pseudonymously.
        async def both_hires_published() -> bool:
            records = await read_topic(p.bootstrap, p.topic(FILING_EVENTS))
            return sum(json.loads(r.value)["type"] == StaffHiredV1.event_type for r in records) == 2

        await eventually(both_hires_published, within=30)
        for record in await read_topic(p.bootstrap, p.topic(FILING_EVENTS)):
            assert person.encode() not in record.value
        hires = [
            json.loads(r.value)["data"]
            for r in await read_topic(p.bootstrap, p.topic(FILING_EVENTS))
            if json.loads(r.value)["type"] == StaffHiredV1.event_type
        ]
        assert {h["person_ref"] for h in hires} == {ref}
        assert {h["institution_id"] for h in hires} == {str(first), str(second)}
