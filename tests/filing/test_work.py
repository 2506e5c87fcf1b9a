"""The filing service's work queues (shared.work) against real PostgreSQL: each queue's items with
their deadline and days overdue, the district scope (a district's officer sees only its own
district's items, a supervisor with a district claim likewise, the city's supervisor all), the
roles (an inspector is refused, 403), and the summary's counts equal to the queues' totals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.filing.annual_reports.models import AnnualReport, AnnualReportOverdue
from services.filing.models import InstitutionChange
from services.filing.staff.models import StaffingStatus, StaffMember
from shared.db import Database
from shared.workdays import china_today
from tests.filing.support import insert_filed_institution
from tests.support import create_app, running, settings_for, token

TIANHE, YUEXIU = "440106", "440104"
STREETS = {TIANHE: "440106001", YUEXIU: "440104001"}
TODAY = china_today()
TIANHE_OFFICER = token("filing_officer", subject="work-officer-th", districts=[TIANHE])
YUEXIU_OFFICER = token("filing_officer", subject="work-officer-yx", districts=["越秀区"])
NO_DISTRICT_OFFICER = token("filing_officer", subject="work-officer-none")
CITY_SUPERVISOR = token("supervisor", subject="work-supervisor")
TIANHE_SUPERVISOR = token("supervisor", subject="work-supervisor-th", districts=[TIANHE])
INSPECTOR = token("inspector", subject="work-inspector")


@pytest.fixture
async def filing(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("filing")
    app: FastAPI = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


async def institution(db: Database, district: str, **overrides: Any) -> uuid.UUID:
    async with db.transaction() as session:
        return await insert_filed_institution(
            session, district_code=district, street_code=STREETS[district], **overrides
        )


async def queue(client: httpx.AsyncClient, name: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v1/work/queues/{name}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_filing_decisions_pending_and_overdue_by_their_statutory_deadline(
    filing: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = filing
    submitted = {"status": "submitted", "decided_at": None, "filed_at": None}
    late = await institution(db, TIANHE, name="天河逾期托育", decision_due=TODAY - timedelta(days=3), **submitted)
    due = await institution(db, TIANHE, name="天河待决托育", decision_due=TODAY + timedelta(days=2), **submitted)
    yuexiu_late = await institution(db, YUEXIU, decision_due=TODAY - timedelta(days=1), **submitted)
    await institution(db, TIANHE)  # filed: nothing to decide

    overdue = await queue(client, "filing_decisions_overdue", TIANHE_OFFICER)
    assert overdue["total"] == 1
    [item] = overdue["items"]
    assert item["id"] == str(late)
    assert item["kind"] == "filing"
    assert item["deadline"] == (TODAY - timedelta(days=3)).isoformat()
    assert item["days_overdue"] == 3
    assert item["institution"] == {"id": str(late), "name": "天河逾期托育"}
    assert item["district"] == {"code": TIANHE, "name": "天河区"}
    assert item["action"] == {"code": "decide_filing", "label_zh": "作出备案决定", "role": "filing_officer"}
    assert item["link"] == f"/v1/institutions/{late}"
    assert (await client.get(item["link"], headers=TIANHE_OFFICER)).json()["status"] == "submitted"

    pending = await queue(client, "filing_decisions_pending", TIANHE_OFFICER)
    assert ids(pending) == [str(due)]
    assert pending["items"][0]["days_overdue"] == 0
    assert pending["items"][0]["deadline"] == (TODAY + timedelta(days=2)).isoformat()

    # scope: the other district's officer sees only its own; the city's supervisor both, earliest first
    assert ids(await queue(client, "filing_decisions_overdue", YUEXIU_OFFICER)) == [str(yuexiu_late)]
    assert ids(await queue(client, "filing_decisions_overdue", CITY_SUPERVISOR)) == [str(late), str(yuexiu_late)]
    assert ids(await queue(client, "filing_decisions_overdue", CITY_SUPERVISOR, sort="-deadline")) == [
        str(yuexiu_late),
        str(late),
    ]
    assert ids(await queue(client, "filing_decisions_overdue", TIANHE_SUPERVISOR)) == [str(late)]
    assert ids(await queue(client, "filing_decisions_overdue", CITY_SUPERVISOR, district="越秀区")) == [
        str(yuexiu_late)
    ]
    assert (await queue(client, "filing_decisions_overdue", NO_DISTRICT_OFFICER))["total"] == 0

    # a district outside the caller's is refused, not silently emptied; an inspector has no filing queue
    outside = await client.get(
        "/v1/work/queues/filing_decisions_overdue", headers=TIANHE_OFFICER, params={"district": YUEXIU}
    )
    assert outside.status_code == 403
    assert outside.json()["error"]["code"] == "district_out_of_scope"
    refused = await client.get("/v1/work/queues/filing_decisions_overdue", headers=INSPECTOR)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "role_required"
    assert (await client.get("/v1/work/summary", headers=INSPECTOR)).status_code == 403


async def test_changes_reports_staffing_and_certificates(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    tianhe = await institution(db, TIANHE, name="天河变更托育")
    yuexiu = await institution(db, YUEXIU, name="越秀托育")
    now = datetime.now(UTC)
    change_due = TODAY - timedelta(days=1)
    async with db.transaction() as session:
        change = InstitutionChange(
            institution_id=tianhe,
            changes={"address": "天河路2号"},
            status="pending",
            requested_by="someone",
            requested_at=now,
            decision_due=change_due,
        )
        session.add(change)
        for iid in (tianhe, yuexiu):
            session.add(
                AnnualReportOverdue(institution_id=iid, year=2024, due_date=date(2025, 3, 31), district_code="")
            )
            session.add(
                AnnualReportOverdue(institution_id=iid, year=2023, due_date=date(2024, 3, 31), district_code="")
            )
            session.add(
                StaffingStatus(
                    institution_id=iid,
                    compliant=False,
                    shortfalls=[{"code": "carer_ratio", "detail": "保育人员不足：至少需要7名，在岗5名"}],
                    evaluated_at=now,
                    changed_at=now,
                )
            )
        # the 2023 report came late: only 2024 is still missing for 天河
        session.add(
            AnnualReport(
                institution_id=tianhe,
                year=2023,
                enrolment=[],
                enrolled_children=0,
                staff={},
                staff_count=0,
                incidents=0,
                incident_descriptions=[],
                monthly_fee_yuan=0,
                due_date=date(2024, 3, 31),
                on_time=False,
                submitted_by="officer",
                submitted_at=now,
            )
        )
        staff: dict[str, uuid.UUID] = {}
        for label, health, certificates in (
            ("expired", TODAY - timedelta(days=2), []),
            (
                "soon",
                TODAY + timedelta(days=300),
                [{"kind": "保育员证", "number": "X1", "expires_on": str(TODAY + timedelta(days=10))}],
            ),
            ("fine", TODAY + timedelta(days=300), [{"kind": "保育员证", "number": "X2", "expires_on": None}]),
        ):
            member = StaffMember(
                institution_id=tianhe,
                name=f"演示{label}",
                person_ref=f"ref-{label}-{uuid.uuid4()}",
                id_number_encrypted=b"x",
                id_masked="4401**********0000",
                role="carer",
                certificates=certificates,
                health_certificate_expires_on=health,
                training=[],
                hired_on=TODAY - timedelta(days=100),
                hired_by="officer",
            )
            session.add(member)
            await session.flush()
            staff[label] = member.id

    changes = await queue(client, "filing_changes_pending", TIANHE_OFFICER)
    assert ids(changes) == [str(change.id)]
    assert changes["items"][0]["days_overdue"] == 1
    assert changes["items"][0]["action"]["code"] == "decide_change"
    assert (await queue(client, "filing_changes_pending", YUEXIU_OFFICER))["total"] == 0

    reports = await queue(client, "annual_reports_missing", TIANHE_OFFICER)
    assert ids(reports) == [f"{tianhe}:2024"]
    assert reports["items"][0]["deadline"] == "2025-03-31"
    assert reports["items"][0]["days_overdue"] == (TODAY - date(2025, 3, 31)).days
    assert reports["items"][0]["link"] == f"/v1/institutions/{tianhe}/annual-reports/2024"
    city = await queue(client, "annual_reports_missing", CITY_SUPERVISOR)
    # earliest due first; equal deadlines marked in one transaction fall back to the item id
    assert ids(city) == [f"{yuexiu}:2023", *sorted([f"{tianhe}:2024", f"{yuexiu}:2024"])]
    assert ids(await queue(client, "annual_reports_missing", CITY_SUPERVISOR, year=2023)) == [f"{yuexiu}:2023"]

    staffing = await queue(client, "staffing_shortfalls", YUEXIU_OFFICER)
    assert ids(staffing) == [str(yuexiu)]
    assert staffing["items"][0]["deadline"] is None
    assert staffing["items"][0]["days_overdue"] is None
    assert "保育人员不足" in staffing["items"][0]["title_zh"]

    expiring = await queue(client, "staff_certificates_expiring", TIANHE_OFFICER)
    assert ids(expiring) == [str(staff["expired"]), str(staff["soon"])]
    expired, soon = expiring["items"]
    assert (expired["deadline"], expired["days_overdue"]) == ((TODAY - timedelta(days=2)).isoformat(), 2)
    assert (soon["deadline"], soon["days_overdue"]) == ((TODAY + timedelta(days=10)).isoformat(), 0)
    assert "演示" not in expired["title_zh"]  # the person's name stays on the roster
    assert ids(await queue(client, "staff_certificates_expiring", TIANHE_OFFICER, days=5)) == [str(staff["expired"])]
    assert (await queue(client, "staff_certificates_expiring", YUEXIU_OFFICER))["total"] == 0

    # the summary counts what the queues list, for each caller
    for headers in (TIANHE_OFFICER, YUEXIU_OFFICER, CITY_SUPERVISOR):
        summary = (await client.get("/v1/work/summary", headers=headers)).json()
        assert summary["service"] == "filing"
        assert [q["queue"] for q in summary["queues"]] == [
            "filing_decisions_pending",
            "filing_decisions_overdue",
            "filing_changes_pending",
            "annual_reports_missing",
            "staffing_shortfalls",
            "staff_certificates_expiring",
            "staff_training_below_requirement",
            "filings_suspended",
        ]
        for q in summary["queues"]:
            assert q["count"] == (await queue(client, q["queue"], headers))["total"], q
    tianhe_summary = (await client.get("/v1/work/summary", headers=TIANHE_OFFICER)).json()
    assert {q["queue"]: q["count"] for q in tianhe_summary["queues"]} == {
        "filing_decisions_pending": 0,
        "filing_decisions_overdue": 0,
        "filing_changes_pending": 1,
        "annual_reports_missing": 1,
        "staffing_shortfalls": 1,
        "staff_certificates_expiring": 2,
        "staff_training_below_requirement": 0,
        "filings_suspended": 0,
    }


def _member(institution_id: uuid.UUID, role: str, training: list[dict[str, Any]], **overrides: Any) -> StaffMember:
    return StaffMember(
        institution_id=institution_id,
        name=f"演示{role}",
        person_ref=f"ref-{role}-{uuid.uuid4()}",
        id_number_encrypted=b"x",
        id_masked="4401**********0000",
        role=role,
        certificates=[],
        health_certificate_expires_on=TODAY + timedelta(days=300),
        training=training,
        hired_on=TODAY - timedelta(days=100),
        hired_by="officer",
        **overrides,
    )


def _hours(*hours: float) -> list[dict[str, Any]]:
    return [{"hours": h, "date": str(TODAY - timedelta(days=30)), "topic": "托育机构负责人岗位培训"} for h in hours]


async def test_staff_training_below_the_principals_60_hours(filing: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = filing
    tianhe = await institution(db, TIANHE, name="天河培训托育")
    enough = await institution(db, TIANHE, name="天河达标托育")
    yuexiu = await institution(db, YUEXIU, name="越秀培训托育")
    submitted = await institution(db, TIANHE, status="submitted", decided_at=None, filed_at=None)
    async with db.transaction() as session:
        short = _member(tianhe, "principal", _hours(24, 16))  # 40 hours: below 60
        session.add(short)
        session.add(_member(enough, "principal", _hours(40, 20)))  # exactly 60: meets it
        session.add(_member(tianhe, "carer", []))  # no requirement for carers
        session.add(_member(tianhe, "principal", [], left_on=TODAY - timedelta(days=1)))  # left: not on the list
        session.add(_member(submitted, "principal", []))  # not filed yet: nothing to follow up
        other = _member(yuexiu, "principal", _hours(8))
        session.add(other)
        await session.flush()

    page = await queue(client, "staff_training_below_requirement", TIANHE_OFFICER)
    assert page["title_zh"] == "从业人员培训学时不足"
    assert ids(page) == [str(short.id)]
    [item] = page["items"]
    assert item["kind"] == "staff_training"
    assert (
        item["title_zh"]
        == "天河培训托育：负责人培训40学时，低于60学时（《托育机构质量评估标准》（WS/T 821—2023）5.2.1）"
    )
    assert "演示" not in item["title_zh"]  # the person's name stays on the roster
    assert (item["deadline"], item["days_overdue"]) == (None, None)
    assert item["institution"] == {"id": str(tianhe), "name": "天河培训托育"}
    assert item["district"] == {"code": TIANHE, "name": "天河区"}
    assert item["action"] == {"code": "complete_training", "label_zh": "督促完成培训学时", "role": "filing_officer"}
    # the link is the person on the roster, whose recorded hours are the 40 the item names
    person = await client.get(item["link"], headers=TIANHE_OFFICER)
    assert person.status_code == 200, person.text
    assert (person.json()["role"], person.json()["training_hours"]) == ("principal", 40)

    # scope: the other district's officer sees only its own principal; the city's supervisor both
    assert ids(await queue(client, "staff_training_below_requirement", YUEXIU_OFFICER)) == [str(other.id)]
    assert sorted(ids(await queue(client, "staff_training_below_requirement", CITY_SUPERVISOR))) == sorted(
        [str(short.id), str(other.id)]
    )
    assert (await queue(client, "staff_training_below_requirement", NO_DISTRICT_OFFICER))["total"] == 0
    refused = await client.get("/v1/work/queues/staff_training_below_requirement", headers=INSPECTOR)
    assert refused.status_code == 403

    # the morning list counts it
    for headers, count in ((TIANHE_OFFICER, 1), (YUEXIU_OFFICER, 1), (CITY_SUPERVISOR, 2)):
        summary = (await client.get("/v1/work/summary", headers=headers)).json()
        assert {q["queue"]: q["count"] for q in summary["queues"]}["staff_training_below_requirement"] == count
