"""Filing API against real PostgreSQL (migrated by Alembic), each test rolled back at the end.

The relay and consumers are off here (``run_background_workers=False``): these tests are about what
a request writes, and what a bad request does not write.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from services.filing.models import Institution
from shared.db import Database
from shared.events import CloudEvent, decode
from shared.events.filing import InstitutionSubmittedV1
from shared.identifiers import uscc_check_char
from shared.outbox import outbox_table
from tests.support import create_app, running, settings_for, token

OFFICER = token("filing_officer", subject="officer-tianhe-01")


def make_uscc(serial: int) -> str:
    body = f"91440106MA{serial:07d}"
    return body + uscc_check_char(body)


def valid_body(serial: int = 1, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uscc": make_uscc(serial),
        "name": "天河区小树苗托育中心",
        "district": "天河区",
        "street_code": "440106001",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def filing(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


async def counts(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        institutions = (await session.execute(select(func.count()).select_from(Institution))).scalar_one()
        events = (await session.execute(select(func.count()).select_from(outbox_table))).scalar_one()
    return institutions, events


async def test_submit_stores_institution_and_its_event_together(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    response = await client.post("/v1/institutions", json=valid_body(), headers=OFFICER)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "submitted"
    assert body["district_code"] == "440106"
    assert body["district_name"] == "天河区"
    assert body["street_name"]
    assert response.headers["location"] == f"/v1/institutions/{body['id']}"

    async with db.transaction() as session:
        rows = (await session.execute(select(outbox_table))).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.topic == "childcare.filing.events"
    assert row.message_key == body["id"], "the Kafka key is the institution id, so its history stays ordered"
    assert row.published_at is None
    event = decode(row.payload.encode())
    assert isinstance(event.data, InstitutionSubmittedV1)
    assert str(event.data.institution_id) == body["id"]
    assert event.envelope.subject == body["id"]
    assert event.envelope.source == "/services/filing"
    CloudEvent.model_validate(json.loads(row.payload))

    fetched = await client.get(f"/v1/institutions/{body['id']}", headers=OFFICER)
    assert fetched.status_code == 200
    assert fetched.json()["uscc"] == body["uscc"]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"uscc": make_uscc(7)[:-1] + ("0" if make_uscc(7)[-1] != "0" else "1")}, "uscc", "uscc_checksum"),
        ({"uscc": "91440106MA1234"}, "uscc", "uscc_length"),
        ({"district": "深圳市南山区"}, "district", "unknown_district"),
        ({"street_code": "440999001"}, "street_code", "unknown_street"),
        ({"street_code": "440104001"}, "street_code", "street_not_in_district"),
        ({"name": "x"}, "name", "string_too_short"),
        ({"district": None}, "district", "string_type"),
        ({"extra": "field"}, "extra", "extra_forbidden"),
    ],
)
async def test_bad_input_is_a_422_naming_field_and_reason_and_writes_nothing(
    filing: tuple[httpx.AsyncClient, Database], overrides: dict[str, object], field: str, code: str
) -> None:
    client, db = filing
    response = await client.post("/v1/institutions", json={**valid_body(), **overrides}, headers=OFFICER)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), "people get a Chinese message"
    assert await counts(db) == (0, 0)


async def test_missing_fields_are_all_named(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = filing
    response = await client.post("/v1/institutions", json={"name": "某托育中心"}, headers=OFFICER)
    assert response.status_code == 422
    errors = response.json()["error"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {
        ("uscc", "missing"),
        ("district", "missing"),
        ("street_code", "missing"),
    }
    assert all(e["message"] == "缺少必填字段" for e in errors)


async def test_malformed_json_is_a_422_not_a_500(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    response = await client.post(
        "/v1/institutions",
        content=b'{"uscc": "91440106',
        headers={**OFFICER, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "json_invalid"
    assert await counts(db) == (0, 0)


async def test_second_filing_of_same_code_is_a_conflict(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    first = await client.post("/v1/institutions", json=valid_body(3), headers=OFFICER)
    assert first.status_code == 201
    again = await client.post("/v1/institutions", json=valid_body(3, name="另一个名字托育园"), headers=OFFICER)
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "uscc_already_filed",
        "message": "该统一社会信用代码已提交过备案",
        "field": "uscc",
        "errors": [{"field": "uscc", "code": "uscc_already_filed", "message": "该统一社会信用代码已提交过备案"}],
    }
    assert await counts(db) == (1, 1)


async def test_lowercase_and_spaced_code_is_normalised(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = filing
    code = make_uscc(11)
    response = await client.post(
        "/v1/institutions", json=valid_body(uscc=" " + code.lower() + " ", district="440106"), headers=OFFICER
    )
    assert response.status_code == 201, response.text
    assert response.json()["uscc"] == code


async def test_auth_is_required_and_roles_are_enforced(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    anonymous = await client.post("/v1/institutions", json=valid_body())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "token_missing"
    assert anonymous.headers["www-authenticate"] == "Bearer"

    forged = await client.post("/v1/institutions", json=valid_body(), headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "token_invalid"

    inspector = await client.post("/v1/institutions", json=valid_body(), headers=token("inspector"))
    assert inspector.status_code == 403
    assert inspector.json()["error"]["code"] == "role_required"
    assert await counts(db) == (0, 0)


async def test_unknown_institution_is_a_404(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = filing
    response = await client.get("/v1/institutions/00000000-0000-0000-0000-000000000000", headers=OFFICER)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "institution_not_found"
    not_uuid = await client.get("/v1/institutions/abc", headers=OFFICER)
    assert not_uuid.status_code == 422
    assert not_uuid.json()["error"]["field"] == "institution_id"
