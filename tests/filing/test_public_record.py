"""The directory's search by name or unified social credit code (q=), and the institution's public
record (its page's facts): filing number and Beijing filing date, organiser, classes with their age
groups, hours, the public phone (never the private contact phone), the 普惠 fee apart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from services.filing.annual_reports.models import AnnualReport
from shared.db import Database
from tests.filing.support import insert_filed_institution, make_uscc
from tests.support import create_app, running, settings_for

LIST = "/v1/public/institutions"


@pytest.fixture
async def directory(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


async def add(db: Database, **overrides: Any) -> str:
    async with db.transaction() as session:
        return str(await insert_filed_institution(session, **overrides))


async def names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return sorted(item["name"] for item in body["items"])


async def test_q_finds_by_part_of_the_name_or_by_the_whole_code(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    code = make_uscc()
    await add(db, name="天河区阳光宝贝托育中心", uscc=code)
    await add(db, name="越秀区阳光托育园", district_code="440104", street_code="440104003")
    await add(db, name="海珠区小树苗托育中心", district_code="440105", street_code="440105001")
    await add(db, name="荔湾区100%托育_之家", district_code="440103", street_code="440103001")
    await add(db, name="番禺区阳光未备案", status="submitted", filed_at=None)

    assert await names(client, q="阳光") == ["天河区阳光宝贝托育中心", "越秀区阳光托育园"]  # filed only
    assert await names(client, q="阳光", district="越秀区") == ["越秀区阳光托育园"]
    assert await names(client, q="小树苗") == ["海珠区小树苗托育中心"]
    assert await names(client, q=code) == ["天河区阳光宝贝托育中心"]
    assert await names(client, q=code.lower()) == ["天河区阳光宝贝托育中心"], "a code in lower case is the same code"
    assert await names(client, q=code[:10]) == [], "part of a code is not a code, nor part of a name"
    # the user's % and _ are characters, not wildcards
    assert await names(client, q="100%") == ["荔湾区100%托育_之家"]
    assert await names(client, q="%") == ["荔湾区100%托育_之家"]
    assert await names(client, q="_") == ["荔湾区100%托育_之家"]
    assert await names(client, q="不存在的机构") == []

    too_long = await client.get(LIST, params={"q": "阳" * 51})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["errors"][0]["field"] == "q"


async def test_the_record_has_the_filing_facts_and_only_the_public_phone(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    # filed at 17:30 UTC on 5 December: in Guangzhou that is already the 6th
    late = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
    earlier = await add(db, name="天河区第一家", filed_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    institution_id = await add(
        db,
        name="天河区第二家",
        organiser_type="social_service",
        classes=[{"class_type": "infant", "size": 10}, {"class_type": "older", "size": 20}],
        puhui_slots=12,
        monthly_fee_yuan=3000,
        puhui_monthly_fee_yuan=1800,
        opening_hours="07:30-18:00",
        public_phone="020-87000001",
        contact_phone="13800138000",
        filed_at=late,
    )
    await add(db, name="海珠区的", district_code="440105", street_code="440105001", filed_at=late)

    response = await client.get(f"{LIST}/{institution_id}/record")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["filed_on"] == "2026-12-06"
    # the second filing of 天河区 (440106) in 2026; the other district's filing does not count
    assert record["filing_number"] == "穗托备44010620260002"
    first = (await client.get(f"{LIST}/{earlier}/record")).json()
    assert first["filing_number"] == "穗托备44010620260001"
    assert record["organiser_type"] == "social_service"
    assert record["organiser_type_zh"] == "社会服务机构"
    assert record["classes"] == [
        {"class_type": "infant", "class_type_zh": "乳儿班", "age_group_zh": "6—12个月", "size": 10},
        {"class_type": "older", "class_type_zh": "托大班", "age_group_zh": "24—36个月", "size": 20},
    ]
    assert record["opening_hours"] == "07:30-18:00"
    assert record["public_phone"] == "020-87000001"
    assert (record["monthly_fee_yuan"], record["puhui_monthly_fee_yuan"]) == (3000, 1800)
    assert "13800138000" not in response.text, "the filing's contact phone is never public"

    # the directory's entries keep their shape: no phone, no code, no classes
    entry = (await client.get(f"{LIST}/{institution_id}")).json()
    assert "public_phone" not in entry
    assert "uscc" not in entry
    assert "classes" not in entry
    assert entry["puhui_monthly_fee_yuan"] == 1800
    assert entry["opening_hours"] == "07:30-18:00"

    hidden = await add(db, name="未备案的", status="submitted", filed_at=None)
    assert (await client.get(f"{LIST}/{hidden}/record")).status_code == 404


def annual_report(institution_id: str, year: int, enrolled: int) -> AnnualReport:
    return AnnualReport(
        institution_id=institution_id,
        year=year,
        enrolment=[{"class_type": "older", "children": enrolled}],
        enrolled_children=enrolled,
        staff={"carers": 4},
        staff_count=4,
        incidents=0,
        incident_descriptions=[],
        monthly_fee_yuan=3000,
        puhui_monthly_fee_yuan=None,
        due_date=date(year + 1, 3, 31),
        on_time=True,
        submitted_by="officer",
        submitted_at=datetime(year + 1, 2, 1, tzinfo=UTC),
    )


async def test_the_record_states_vacancies_from_the_latest_annual_report(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    institution_id = await add(db, classes=[{"class_type": "older", "size": 20}, {"class_type": "toddler", "size": 15}])
    record = (await client.get(f"{LIST}/{institution_id}/record")).json()
    assert "enrolment" not in record, "no report, no figure"

    async with db.transaction() as session:
        session.add_all([annual_report(institution_id, 2024, 30), annual_report(institution_id, 2025, 26)])
    record = (await client.get(f"{LIST}/{institution_id}/record")).json()
    assert record["enrolment"] == {"year": 2025, "enrolled_children": 26, "vacancies": 35 - 26}
