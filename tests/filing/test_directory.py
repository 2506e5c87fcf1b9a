"""The public directory (托育地图): only filed institutions, their public facts, filters, the distance
search (checked against hand-computed haversine distances), every 422, and the credit-grade and
inspection-result projections, end to end through the real broker."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.kafka import LocalKafka
from services.filing.directory.consumers import handlers as directory_handlers
from shared.app import ServiceContext
from shared.db import Database
from shared.events import DecodedEvent, EventData
from shared.events.credit import InstitutionGradedV1
from shared.events.inspection import InspectionResultPublishedV1
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.topics import CREDIT_EVENTS, INSPECTION_EVENTS
from tests.filing.support import insert_filed_institution
from tests.support import Platform, create_app, eventually, produce_raw, running, settings_for

LIST = "/v1/public/institutions"
CENTER_LAT, CENTER_LNG = 23.1000, 113.3000  # a point in Guangzhou the distance tests measure from
PUBLIC_KEYS = {
    "id",
    "name",
    "operating_model",
    "operating_model_zh",
    "service_types",
    "service_types_zh",
    "district",
    "street",
    "address",
    "latitude",
    "longitude",
    "total_slots",
    "puhui_slots",
    "monthly_fee_yuan",
    "meals",
    "credit_grade",
    "latest_inspection",
}


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The expected distance, computed independently of the service (earth radius 6371.0088 km)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = math.radians(lat2 - lat1)
    dlambda = math.radians(lng2 - lng1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def east_offset_deg(km: float, lat: float) -> float:
    """Longitude offset that puts a point ``km`` due east of (lat, ·) on the great circle."""
    angular = km / 6371.0088
    return math.degrees(2 * math.asin(math.sin(angular / 2) / math.cos(math.radians(lat))))


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


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


# --- who is listed, and what is shown -------------------------------------------------------------


async def test_only_filed_institutions_are_public(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    filed = await add(db, name="已备案托育中心")
    hidden = {
        status: await add(db, name=f"{status}托育中心", status=status, filed_at=None)
        for status in ("submitted", "returned", "rejected", "deregistered")
    }

    body = await listing(client)
    assert ids(body) == [filed]
    assert body["total"] == 1

    assert (await client.get(f"{LIST}/{filed}")).status_code == 200
    for institution_id in [*hidden.values(), str(uuid.uuid4())]:
        response = await client.get(f"{LIST}/{institution_id}")
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "institution_not_found"
        assert error["message"] == "未找到该托育机构，或该机构尚未备案"


async def test_entry_shows_public_facts_and_no_personal_data(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    institution_id = await add(
        db,
        name="越秀区阳光托育中心",
        operating_model="public_private",
        service_types=["full_day", "hourly"],
        district_code="440104",
        street_code="440104003",
        address="北京路100号",
        latitude=23.1250,
        longitude=113.2700,
        classes=[{"class_type": "infant", "size": 10}, {"class_type": "toddler", "size": 15}],
        puhui_slots=12,
        monthly_fee_yuan=2600,
        meals=False,
        contact_phone="13800138000",
        submitted_by="officer-yuexiu-07",
    )

    detail = await client.get(f"{LIST}/{institution_id}")
    assert detail.status_code == 200
    entry = detail.json()
    assert entry == {
        "id": institution_id,
        "name": "越秀区阳光托育中心",
        "operating_model": "public_private",
        "operating_model_zh": "公建民营",
        "service_types": ["full_day", "hourly"],
        "service_types_zh": ["全日托", "计时托"],
        "district": {"code": "440104", "name": "越秀区"},
        "street": {"code": "440104003", "name": "北京街道"},
        "address": "北京路100号",
        "latitude": 23.125,
        "longitude": 113.27,
        "total_slots": 25,
        "puhui_slots": 12,
        "monthly_fee_yuan": 2600,
        "meals": False,
        "credit_grade": None,
        "latest_inspection": None,
    }
    listed = await client.get(LIST)
    assert listed.json()["items"] == [entry], "list and detail show the same entry, and no distance_km"
    for response in (detail, listed):
        raw = response.text
        assert "13800138000" not in raw
        assert "officer-yuexiu-07" not in raw
        assert not re.search(r"staff|phone|person|officer|submitted_by|uscc|documents", raw)


# --- filters --------------------------------------------------------------------------------------


async def test_filter_by_district_code_or_name_and_by_street(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    wushan = await add(db, name="甲", district_code="440106", street_code="440106001")
    yuancun = await add(db, name="乙", district_code="440106", street_code="440106002")
    hongqiao = await add(db, name="丙", district_code="440104", street_code="440104001")

    for district in ("440106", "天河区", "天河"):
        body = await listing(client, district=district)
        assert sorted(ids(body)) == sorted([wushan, yuancun]), district
        assert body["total"] == 2
    assert ids(await listing(client, district="越秀区")) == [hongqiao]
    assert ids(await listing(client, street="440106002")) == [yuancun]
    assert ids(await listing(client, district="天河区", street="440106001")) == [wushan]
    assert ids(await listing(client, street="440104003")) == []


async def test_filter_by_puhui_places(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    with_puhui = await add(db, name="普惠园", puhui_slots=1)
    without = await add(db, name="非普惠园", puhui_slots=0)

    assert ids(await listing(client, puhui="true")) == [with_puhui]
    assert ids(await listing(client, puhui="false")) == [without]
    assert sorted(ids(await listing(client))) == sorted([with_puhui, without])


async def test_filter_by_service_type(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    full_day = await add(db, name="甲", service_types=["full_day"])
    mixed = await add(db, name="乙", service_types=["half_day", "temporary"])
    hourly = await add(db, name="丙", service_types=["hourly", "full_day"])

    assert sorted(ids(await listing(client, service_type="full_day"))) == sorted([full_day, hourly])
    assert ids(await listing(client, service_type="temporary")) == [mixed]
    assert ids(await listing(client, service_type="half_day")) == [mixed]
    assert ids(await listing(client, service_type="hourly")) == [hourly]


async def test_filters_combine(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    match = await add(db, name="甲", street_code="440106003", puhui_slots=5, service_types=["hourly"])
    await add(db, name="乙", street_code="440106003", puhui_slots=0, service_types=["hourly"])
    await add(db, name="丙", street_code="440106003", puhui_slots=5, service_types=["full_day"])
    await add(db, name="丁", street_code="440106001", puhui_slots=5, service_types=["hourly"])

    body = await listing(client, district="天河区", street="440106003", puhui="true", service_type="hourly")
    assert ids(body) == [match]
    assert body["total"] == 1


# --- the distance search --------------------------------------------------------------------------


async def test_near_sorts_by_hand_computed_great_circle_distance(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    assert haversine_km(23.0, 113.0, 23.01, 113.0) == pytest.approx(1.11195, abs=1e-5)  # the yardstick
    points = {
        "north_0.01": (CENTER_LAT + 0.01, CENTER_LNG),
        "east_0.02": (CENTER_LAT, CENTER_LNG + 0.02),
        "southwest_0.015": (CENTER_LAT - 0.015, CENTER_LNG - 0.015),
        "north_0.03": (CENTER_LAT + 0.03, CENTER_LNG),
        "far_north_0.05": (CENTER_LAT + 0.05, CENTER_LNG),  # 5.56 km: outside the default 5 km
    }
    # names in the reverse of the distance order, so a name sort would give a different answer
    created = {
        label: await add(db, name=f"托育中心{9 - i}", latitude=lat, longitude=lng)
        for i, (label, (lat, lng)) in enumerate(points.items())
    }
    expected = {label: haversine_km(CENTER_LAT, CENTER_LNG, lat, lng) for label, (lat, lng) in points.items()}
    assert expected["north_0.01"] == pytest.approx(1.11195, abs=1e-5)
    assert expected["far_north_0.05"] > 5 > expected["north_0.03"]

    body = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}")
    within = sorted((label for label in points if expected[label] <= 5), key=lambda label: expected[label])
    assert ids(body) == [created[label] for label in within]
    assert body["total"] == 4
    for item, label in zip(body["items"], within, strict=True):
        assert item["distance_km"] == round(expected[label], 3), label
    assert [item["distance_km"] for item in body["items"]] == [1.112, 2.046, 2.266, 3.336]

    wider = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}", radius_km=10)
    assert ids(wider)[-1] == created["far_north_0.05"]
    assert wider["items"][-1]["distance_km"] == round(expected["far_north_0.05"], 3)


async def test_radius_edge_includes_just_inside_and_excludes_just_outside(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    east_inside = CENTER_LNG + east_offset_deg(1.995, CENTER_LAT)
    east_outside = CENTER_LNG + east_offset_deg(2.005, CENTER_LAT)
    inside_north = await add(db, name="北-内", latitude=CENTER_LAT + 0.0179, longitude=CENTER_LNG)
    outside_north = await add(db, name="北-外", latitude=CENTER_LAT + 0.0181, longitude=CENTER_LNG)
    # due east the box must be wider in degrees than north-south (cos of latitude); just inside
    # along the latitude line checks that the box does not cut off what the circle contains
    inside_east = await add(db, name="东-内", latitude=CENTER_LAT, longitude=east_inside)
    outside_east = await add(db, name="东-外", latitude=CENTER_LAT, longitude=east_outside)
    d_inside_north = haversine_km(CENTER_LAT, CENTER_LNG, CENTER_LAT + 0.0179, CENTER_LNG)
    d_outside_north = haversine_km(CENTER_LAT, CENTER_LNG, CENTER_LAT + 0.0181, CENTER_LNG)
    d_inside_east = haversine_km(CENTER_LAT, CENTER_LNG, CENTER_LAT, east_inside)
    d_outside_east = haversine_km(CENTER_LAT, CENTER_LNG, CENTER_LAT, east_outside)
    assert d_inside_north < d_inside_east < 2 < d_outside_east < d_outside_north

    body = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}", radius_km=2)
    assert ids(body) == [inside_north, inside_east]
    assert body["total"] == 2
    assert [i["distance_km"] for i in body["items"]] == [round(d_inside_north, 3), round(d_inside_east, 3)]

    everything = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}", radius_km=2.1)
    assert ids(everything) == [inside_north, inside_east, outside_east, outside_north]


async def test_near_combines_with_filters_and_pages(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    near_ids = [
        await add(db, name=f"园{i}", latitude=CENTER_LAT + 0.005 * i, longitude=CENTER_LNG, puhui_slots=i % 2)
        for i in range(1, 7)
    ]  # distances 0.556 km apart, puhui on odd i
    body = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}", puhui="true", page_size=2)
    assert ids(body) == [near_ids[0], near_ids[2]]
    assert body["total"] == 3
    last = await listing(client, near=f"{CENTER_LAT},{CENTER_LNG}", puhui="true", page_size=2, page=2)
    assert ids(last) == [near_ids[4]]
    assert last["items"][0]["distance_km"] == round(
        haversine_km(CENTER_LAT, CENTER_LNG, CENTER_LAT + 0.025, CENTER_LNG), 3
    )


async def test_pagination_by_name_with_totals(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    created = {n: await add(db, name=f"小树苗托育中心{n}") for n in (3, 1, 5, 2, 4)}

    first = await listing(client, page_size=2)
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 5)
    assert ids(first) == [created[1], created[2]]
    assert ids(await listing(client, page_size=2, page=2)) == [created[3], created[4]]
    third = await listing(client, page_size=2, page=3)
    assert ids(third) == [created[5]]
    beyond = await listing(client, page_size=2, page=4)
    assert (beyond["items"], beyond["total"]) == ([], 5)
    default = await listing(client)
    assert (default["page"], default["page_size"], len(default["items"])) == (1, 20, 5)


# --- bad input ------------------------------------------------------------------------------------

NEAR = f"{CENTER_LAT},{CENTER_LNG}"


@pytest.mark.parametrize(
    ("params", "field", "code", "message"),
    [
        ({"district": "朝阳区"}, "district", "unknown_district", "区“朝阳区”不是广州市的行政区"),
        ({"district": "999999"}, "district", "unknown_district", "不是广州市的行政区"),
        ({"street": "440106999"}, "street", "unknown_street", "街道（镇）代码“440106999”不存在"),
        ({"street": "五山"}, "street", "unknown_street", "应为9位街道（镇）代码"),
        (
            {"district": "天河区", "street": "440104001"},
            "street",
            "street_not_in_district",
            "洪桥街道（440104001）不属于天河区，而属于越秀区",
        ),
        ({"near": "abc"}, "near", "near_invalid", "格式应为“纬度,经度”"),
        ({"near": "23.1"}, "near", "near_invalid", "格式应为“纬度,经度”"),
        ({"near": "23.1,113.3,5"}, "near", "near_invalid", "格式应为“纬度,经度”"),
        ({"near": "nan,113.3"}, "near", "near_invalid", "格式应为“纬度,经度”"),
        ({"near": "23.1,inf"}, "near", "near_invalid", "格式应为“纬度,经度”"),
        ({"near": "39.9,116.4"}, "near", "near_outside_guangzhou", "不在广州市范围内"),
        ({"near": "113.3,23.1"}, "near", "near_outside_guangzhou", "不在广州市范围内"),
        ({"near": "22.49,113.3"}, "near", "near_outside_guangzhou", "不在广州市范围内"),
        ({"radius_km": "3"}, "radius_km", "radius_without_near", "必须同时提供位置 near"),
        ({"near": NEAR, "radius_km": "0"}, "radius_km", "greater_than", "必须大于 0"),
        ({"near": NEAR, "radius_km": "50.01"}, "radius_km", "less_than_equal", "必须小于或等于 50"),
        ({"near": NEAR, "radius_km": "nan"}, "radius_km", "finite_number", "必须是有限数字"),
        ({"near": NEAR, "radius_km": "far"}, "radius_km", "float_parsing", "必须是数字"),
        ({"puhui": "maybe"}, "puhui", "bool_parsing", "必须是布尔值"),
        ({"service_type": "overnight"}, "service_type", "literal_error", "取值必须是以下之一"),
        ({"page": "0"}, "page", "greater_than_equal", "必须大于或等于 1"),
        ({"page": "99999999999999999999"}, "page", "less_than_equal", "必须小于或等于"),
        ({"page_size": "0"}, "page_size", "greater_than_equal", "必须大于或等于 1"),
        ({"page_size": "101"}, "page_size", "less_than_equal", "必须小于或等于 100"),
        ({"sort": "fee"}, "sort", "extra_forbidden", "不允许提交此字段"),
    ],
)
async def test_bad_query_is_422_naming_field_and_code_in_chinese(
    directory: tuple[httpx.AsyncClient, Database], params: dict[str, str], field: str, code: str, message: str
) -> None:
    client, _ = directory
    response = await client.get(LIST, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert message in error["message"]
    assert re.search(r"[\u4e00-\u9fff]", error["message"])


async def test_edge_values_of_radius_and_page_size_are_accepted(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = directory
    institution_id = await add(db, latitude=CENTER_LAT + 0.4, longitude=CENTER_LNG)  # 44.5 km north
    assert ids(await listing(client, near=NEAR, radius_km=50, page_size=100)) == [institution_id]
    assert ids(await listing(client, near="22.5,112.9", page_size=1)) == []


async def test_malformed_institution_id_is_422(directory: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = directory
    response = await client.get(f"{LIST}/not-a-uuid")
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("institution_id", "uuid_parsing")


# --- projections ----------------------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def graded(institution_id: str, grade: str, at: datetime) -> InstitutionGradedV1:
    return InstitutionGradedV1(
        institution_id=uuid.UUID(institution_id),
        grade=grade,
        previous_grade=None,
        score=90.0,
        policy_version="gz-2026.1",
        graded_at=at,
    )


def published(institution_id: str, conclusion: str, at: datetime, summary: str) -> InspectionResultPublishedV1:
    return InspectionResultPublishedV1(
        institution_id=uuid.UUID(institution_id),
        task_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        conclusion=conclusion,
        violation_count=0 if conclusion == "compliant" else 2,
        summary_zh=summary,
        inspected_at=at - timedelta(days=3),
        published_at=at,
    )


def as_record(source_service: str, data: InstitutionGradedV1 | InspectionResultPublishedV1) -> tuple[bytes, bytes]:
    """The Kafka record the other service's outbox relay would publish: key = institution id."""
    subject = str(data.institution_id)
    envelope = Outbox(source=f"/services/{source_service}").envelope(data, subject=subject)
    return subject.encode(), envelope.to_json().encode()


async def apply(db: Database, data: EventData) -> None:
    settings = settings_for("filing", run_background_workers=False)
    ctx = ServiceContext(settings=settings, db=db, outbox=Outbox(source=settings.source), metrics=Metrics("filing"))
    envelope = Outbox(source="/services/other").envelope(data, subject="x")
    async with db.transaction() as session:
        await directory_handlers(ctx)[data.event_type](session, DecodedEvent(envelope=envelope, data=data))


async def test_newest_grade_and_inspection_result_win_whatever_the_arrival_order(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    institution_id = await add(db)

    await apply(db, graded(institution_id, "B", T0))
    await apply(db, published(institution_id, "rectification_required", T0, "消毒记录不全，限期整改"))
    entry = (await client.get(f"{LIST}/{institution_id}")).json()
    assert entry["credit_grade"] == "B"
    assert entry["latest_inspection"] == {
        "conclusion": "rectification_required",
        "conclusion_zh": "责令整改",
        "published_at": "2026-11-02T09:00:00Z",
        "summary_zh": "消毒记录不全，限期整改",
    }

    await apply(db, graded(institution_id, "A", T0 + timedelta(days=30)))
    await apply(db, graded(institution_id, "D", T0 - timedelta(days=30)))  # older, arriving late
    await apply(db, published(institution_id, "compliant", T0 + timedelta(days=30), "复查合格"))
    await apply(db, published(institution_id, "non_compliant", T0 - timedelta(days=1), "旧结果"))

    entry = (await client.get(f"{LIST}/{institution_id}")).json()
    assert entry["credit_grade"] == "A"
    assert entry["latest_inspection"]["conclusion"] == "compliant"
    assert entry["latest_inspection"]["summary_zh"] == "复查合格"
    listed = await listing(client)
    assert listed["items"][0]["credit_grade"] == "A"
    assert listed["items"][0]["latest_inspection"]["conclusion_zh"] == "合格"


async def test_grade_of_an_institution_not_filed_stays_out_of_the_directory(
    directory: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = directory
    submitted = await add(db, status="submitted", filed_at=None)
    await apply(db, graded(submitted, "A", T0))
    assert (await listing(client))["total"] == 0
    assert (await client.get(f"{LIST}/{submitted}")).status_code == 404


async def test_grade_and_inspection_events_from_the_broker_reach_the_public_directory(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as p:
        async with p.dbs["filing"].transaction() as session:
            institution_id = str(await insert_filed_institution(session, name="海珠区彩虹托育中心"))
        client = p.clients["filing"]

        async def topics_ready() -> bool:
            return bool(p.apps["filing"].state.runtime.topics_ready.is_set())

        await eventually(topics_ready)
        newer = graded(institution_id, "A", T0 + timedelta(days=10))
        await produce_raw(kafka.bootstrap, p.topic(CREDIT_EVENTS), [as_record("credit", newer)])
        result = published(institution_id, "compliant", T0, "抽查未发现问题")
        await produce_raw(kafka.bootstrap, p.topic(INSPECTION_EVENTS), [as_record("inspection", result)])

        async def projected() -> bool:
            entry = (await client.get(f"{LIST}/{institution_id}")).json()
            return entry.get("credit_grade") == "A" and entry.get("latest_inspection") is not None

        await eventually(projected)
        entry = (await client.get(f"{LIST}/{institution_id}")).json()
        assert entry["latest_inspection"] == {
            "conclusion": "compliant",
            "conclusion_zh": "合格",
            "published_at": "2026-11-02T09:00:00Z",
            "summary_zh": "抽查未发现问题",
        }

        # a grade computed earlier, delivered afterwards (same key, so after the newer one)
        older_key, older_value = as_record("credit", graded(institution_id, "C", T0))
        older_id = json.loads(older_value)["id"]
        await produce_raw(kafka.bootstrap, p.topic(CREDIT_EVENTS), [(older_key, older_value)])

        async def older_consumed() -> bool:
            count = await p.scalar("filing", "SELECT count(*) FROM inbox WHERE event_id = :id", id=older_id)
            return bool(count == 1)

        await eventually(older_consumed)
        entry = (await client.get(f"{LIST}/{institution_id}")).json()
        assert entry["credit_grade"] == "A", "an older grade arriving late must not overwrite the newer one"
        listed = (await client.get(LIST, params={"district": "天河区"})).json()
        assert [(i["id"], i["credit_grade"]) for i in listed["items"]] == [(institution_id, "A")]
        stored = await p.scalar(
            "filing",
            "SELECT grade FROM directory_credit_grade WHERE institution_id = :id",
            id=uuid.UUID(institution_id),
        )
        assert stored == "A"
