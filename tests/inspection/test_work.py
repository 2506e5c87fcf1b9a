"""The inspection service's work queues (shared.work) against real PostgreSQL: each queue's items
with deadline and days overdue, a district supervisor seeing only its district's items, the city's
supervisor all of them, other roles refused (403), and the summary equal to the queues' totals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.inspection.complaints.models import Complaint
from services.inspection.plans.models import Plan
from services.inspection.pool.models import TargetInstitution
from services.inspection.tasks.models import Task, Violation
from services.inspection.unlicensed.models import GuidanceStepRow, UnlicensedCase
from shared.db import Database
from shared.workdays import china_today
from tests.support import create_app, running, settings_for, token

TIANHE, YUEXIU = "440106", "440104"
TODAY = china_today()
NOW = datetime.now(UTC)
CITY = token("supervisor", subject="work-supervisor-city")
TIANHE_SUPERVISOR = token("supervisor", subject="work-supervisor-th", districts=["天河区"])
YUEXIU_SUPERVISOR = token("supervisor", subject="work-supervisor-yx", districts=[YUEXIU])
INSPECTOR = token("inspector", subject="work-inspector")
OFFICER = token("filing_officer", subject="work-officer", districts=[TIANHE])


@pytest.fixture
async def inspection(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("inspection")
    app: FastAPI = create_app("inspection", settings_for("inspection", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


def target(district: str, name: str) -> TargetInstitution:
    return TargetInstitution(
        institution_id=uuid.uuid4(),
        uscc=f"91{uuid.uuid4().hex[:16]}",
        name=name,
        operating_model="private",
        district_code=district,
        street_code=f"{district}001",
        address="测试路1号",
        latitude=23.13,
        longitude=113.32,
        profile={},
        status="filed",
        profile_at=NOW,
    )


def task(institution_id: uuid.UUID, status: str, **overrides: Any) -> Task:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "institution_id": institution_id,
        "kind": "random",
        "checklist": [],
        "status": status,
        "due_by": TODAY + timedelta(days=10),
        "publication_working_days": 20,
        "created_at": NOW,
    }
    values.update(overrides)
    return Task(**values)


def violation(t: Task, status: str, due: date, severity: str = "general") -> Violation:
    return Violation(
        id=uuid.uuid4(),
        task_id=t.id,
        institution_id=t.institution_id,
        code="X",
        severity=severity,
        description="测试违规",
        evidence_sha256=[],
        status=status,
        recorded_by=uuid.uuid4(),
        recorded_at=NOW,
        confirmed_at=NOW,
        rectification_due=due,
    )


def plan(name: str, districts: list[str], status: str, window_start: date) -> Plan:
    return Plan(
        id=uuid.uuid4(),
        name=name,
        districts=districts,
        operating_models=[],
        ratios={"A": "0.1"},
        team_size=2,
        algorithm="v3",
        window_start=window_start,
        window_end=window_start + timedelta(days=30),
        checklist=[],
        publication_working_days=20,
        status=status,
        created_by="supervisor",
        created_at=NOW,
    )


async def queue(client: httpx.AsyncClient, name: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v1/work/queues/{name}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_inspection_queues_deadlines_scope_and_summary(inspection: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = inspection
    tianhe, yuexiu = target(TIANHE, "天河检查托育"), target(YUEXIU, "越秀检查托育")
    submitted = task(tianhe.institution_id, "submitted", submitted_at=NOW, publication_due=TODAY - timedelta(days=2))
    submitted_yx = task(yuexiu.institution_id, "submitted", submitted_at=NOW, publication_due=TODAY + timedelta(days=5))
    reviewed = task(tianhe.institution_id, "reviewed")
    reviewed_yx = task(yuexiu.institution_id, "reviewed")
    due = violation(reviewed, "confirmed", TODAY + timedelta(days=7))
    late = violation(reviewed, "confirmed", TODAY - timedelta(days=4), severity="serious")
    escalated = violation(reviewed, "escalated", TODAY - timedelta(days=20))
    reported = violation(reviewed, "rectification_reported", TODAY + timedelta(days=1))
    reported_followed = violation(reviewed, "rectification_reported", TODAY + timedelta(days=1))
    yuexiu_due = violation(reviewed_yx, "confirmed", TODAY + timedelta(days=3))
    closed = violation(reviewed, "closed", TODAY - timedelta(days=30))
    follow_up = task(tianhe.institution_id, "assigned", kind="targeted", follow_up_of=reported_followed.id)
    complaint = Complaint(
        id=uuid.uuid4(),
        receipt_sha256=uuid.uuid4().hex,
        institution_id=tianhe.institution_id,
        institution_name=tianhe.name,
        district_code=TIANHE,
        category="safety",
        description="测试投诉",
        status="received",
        received_at=NOW,
    )
    triaged = Complaint(
        id=uuid.uuid4(),
        receipt_sha256=uuid.uuid4().hex,
        district_code=YUEXIU,
        address="越秀某处",
        category="safety",
        description="测试投诉",
        status="closed",
        received_at=NOW,
    )
    case = UnlicensedCase(
        id=uuid.uuid4(),
        source="complaint",
        district_code=YUEXIU,
        address="越秀无证点",
        operator_name="某无证托育点",
        status="open",
        opened_by="supervisor",
        opened_at=NOW,
    )
    steps = [
        GuidanceStepRow(case_id=case.id, position=1, title_zh="约谈", due_on=TODAY - timedelta(days=6)),
        GuidanceStepRow(case_id=case.id, position=2, title_zh="整改", due_on=TODAY - timedelta(days=1)),
        GuidanceStepRow(case_id=case.id, position=3, title_zh="复核", due_on=TODAY + timedelta(days=9)),
    ]
    draft = plan("天河区抽查计划", [TIANHE], "draft", TODAY + timedelta(days=5))
    committed = plan("全市抽查计划", [TIANHE, YUEXIU], "committed", TODAY - timedelta(days=1))
    distant = plan("远期计划", [TIANHE], "draft", TODAY + timedelta(days=90))
    async with db.transaction() as session:
        session.add_all([tianhe, yuexiu, draft, committed, distant])
        await session.flush()
        session.add_all([submitted, submitted_yx, reviewed, reviewed_yx])
        await session.flush()
        session.add_all([due, late, escalated, reported, reported_followed, yuexiu_due, closed])
        await session.flush()
        session.add_all([follow_up, complaint, triaged, case])
        await session.flush()
        session.add_all(steps)

    reviews = await queue(client, "tasks_awaiting_review", CITY)
    assert ids(reviews) == [str(submitted.id), str(submitted_yx.id)]  # earliest publication deadline first
    first = reviews["items"][0]
    assert (first["deadline"], first["days_overdue"]) == ((TODAY - timedelta(days=2)).isoformat(), 2)
    assert first["institution"] == {"id": str(tianhe.institution_id), "name": "天河检查托育"}
    assert first["action"]["code"] == "review_task"
    assert first["link"] == f"/v1/tasks/{submitted.id}"
    assert ids(await queue(client, "tasks_awaiting_review", TIANHE_SUPERVISOR)) == [str(submitted.id)]
    assert ids(await queue(client, "tasks_awaiting_review", YUEXIU_SUPERVISOR)) == [str(submitted_yx.id)]

    rect_due = await queue(client, "rectifications_due", TIANHE_SUPERVISOR)
    assert ids(rect_due) == [str(due.id)]
    assert rect_due["items"][0]["days_overdue"] == 0
    assert ids(await queue(client, "rectifications_due", YUEXIU_SUPERVISOR)) == [str(yuexiu_due.id)]
    overdue = await queue(client, "rectifications_overdue", TIANHE_SUPERVISOR)
    assert ids(overdue) == [str(late.id)]
    assert overdue["items"][0]["days_overdue"] == 4
    assert "严重违规" in overdue["items"][0]["title_zh"]
    assert (await queue(client, "rectifications_overdue", YUEXIU_SUPERVISOR))["total"] == 0
    esc = await queue(client, "rectifications_escalated", CITY)
    assert ids(esc) == [str(escalated.id)]
    assert esc["items"][0]["days_overdue"] == 20
    assert ids(await queue(client, "follow_ups_due", CITY)) == [str(reported.id)]  # the other has its follow-up

    complaints = await queue(client, "complaints_untriaged", TIANHE_SUPERVISOR)
    assert ids(complaints) == [str(complaint.id)]
    assert complaints["items"][0]["deadline"] is None
    assert complaints["items"][0]["days_overdue"] is None
    assert (await queue(client, "complaints_untriaged", YUEXIU_SUPERVISOR))["total"] == 0

    cases = await queue(client, "unlicensed_steps_overdue", YUEXIU_SUPERVISOR)
    assert ids(cases) == [str(case.id)]
    assert (cases["items"][0]["deadline"], cases["items"][0]["days_overdue"]) == (
        (TODAY - timedelta(days=6)).isoformat(),
        6,
    )
    assert "逾期2项" in cases["items"][0]["title_zh"]
    assert (await queue(client, "unlicensed_steps_overdue", TIANHE_SUPERVISOR))["total"] == 0

    plans = await queue(client, "plans_nearing_deadline", TIANHE_SUPERVISOR)
    assert ids(plans) == [str(committed.id), str(draft.id)]
    started, upcoming = plans["items"]
    assert (started["action"]["code"], started["days_overdue"], started["district"]) == ("draw_plan", 1, None)
    assert (upcoming["action"]["code"], upcoming["days_overdue"]) == ("commit_plan", 0)
    assert upcoming["district"] == {"code": TIANHE, "name": "天河区"}
    assert ids(await queue(client, "plans_nearing_deadline", YUEXIU_SUPERVISOR)) == [str(committed.id)]
    assert len(ids(await queue(client, "plans_nearing_deadline", CITY, days=120))) == 3

    # roles: the queues are the supervisors'; others are refused
    for headers in (INSPECTOR, OFFICER):
        refused = await client.get("/v1/work/queues/tasks_awaiting_review", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "role_required"
        assert (await client.get("/v1/work/summary", headers=headers)).status_code == 403

    # the summary counts what the queues list
    for headers in (CITY, TIANHE_SUPERVISOR, YUEXIU_SUPERVISOR):
        summary = (await client.get("/v1/work/summary", headers=headers)).json()
        assert len(summary["queues"]) == 8
        for q in summary["queues"]:
            assert q["count"] == (await queue(client, q["queue"], headers))["total"], q
    tianhe_counts = {
        q["queue"]: q["count"]
        for q in (await client.get("/v1/work/summary", headers=TIANHE_SUPERVISOR)).json()["queues"]
    }
    assert tianhe_counts == {
        "tasks_awaiting_review": 1,
        "rectifications_due": 1,
        "rectifications_overdue": 1,
        "rectifications_escalated": 1,
        "follow_ups_due": 1,
        "complaints_untriaged": 1,
        "unlicensed_steps_overdue": 0,
        "plans_nearing_deadline": 2,
    }
