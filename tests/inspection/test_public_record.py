"""一公开 as an institution's record (real PostgreSQL): each published result with its confirmed
violations (title, severity, legal basis, deadline, rectification status, follow-ups), a follow-up's
own result naming what it verified, dates in Beijing time, one institution's results only, and
nothing personal (no description, no person_ref, no inspector)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.inspection.tasks.models import PublishedResult, Task, Violation
from shared.db import Database
from shared.events.inspection import CONCLUSION_ZH
from tests.support import create_app, running, settings_for

RESULTS = "/v1/public/inspection-results"
# published at 17:30 UTC on 5 December: 01:30 on the 6th in Guangzhou
PUBLISHED = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
PERSON_REF = "ab" * 32


@pytest.fixture
async def inspection(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("inspection")
    app: FastAPI = create_app("inspection", settings_for("inspection", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


def task(institution_id: uuid.UUID, **overrides: Any) -> Task:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "institution_id": institution_id,
        "kind": "random",
        "checklist": [],
        "status": "reviewed",
        "due_by": date(2026, 12, 10),
        "publication_working_days": 20,
        "created_at": PUBLISHED - timedelta(days=30),
    }
    values.update(overrides)
    return Task(**values)


def violation(t: Task, code: str, severity: str, status: str, **overrides: Any) -> Violation:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "task_id": t.id,
        "institution_id": t.institution_id,
        "code": code,
        "severity": severity,
        "description": "保育员张某某未持证上岗（现场记录）",
        "person_ref": PERSON_REF,
        "evidence_sha256": [],
        "status": status,
        "recorded_by": uuid.uuid4(),
        "recorded_at": PUBLISHED - timedelta(days=20),
        "confirmed_at": PUBLISHED - timedelta(days=10),
        "rectification_due": date(2026, 11, 30),
    }
    values.update(overrides)
    return Violation(**values)


def published(t: Task, conclusion: str, inspected_on: date, at: datetime, **by_severity: int) -> PublishedResult:
    return PublishedResult(
        task_id=t.id,
        institution_id=t.institution_id,
        institution_name="天河区小树苗托育中心",
        district_code="440106",
        kind=t.kind,
        conclusion=conclusion,
        violations_by_severity={"minor": 0, "general": 0, "serious": 0, "critical": 0, **by_severity},
        summary_zh="检查结果",
        inspected_on=inspected_on,
        publication_due=inspected_on + timedelta(days=28),
        published_at=at,
        on_time=True,
    )


async def test_each_result_shows_its_violations_and_the_follow_up_that_verified_them(
    inspection: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = inspection
    iid, other = uuid.uuid4(), uuid.uuid4()
    first = task(iid)
    fire = violation(first, "FIRE_EXIT_OBSTRUCTED", "serious", "closed")
    price = violation(
        first, "PRICE_NOT_MARKED", "general", "rectification_reported", recorded_at=PUBLISHED - timedelta(days=19)
    )
    dismissed = violation(first, "DISCLOSURE_INCOMPLETE", "minor", "dismissed")
    failed_check = task(iid, kind="targeted", reason="follow_up", follow_up_of=fire.id)
    follow_up = task(iid, kind="targeted", reason="follow_up", follow_up_of=fire.id)
    fire.closed_by_task_id = follow_up.id
    fire.closed_at = datetime(2026, 12, 1, 16, 10, tzinfo=UTC)  # the 2nd in Guangzhou
    elsewhere = task(other)
    async with db.transaction() as session:
        session.add_all([first, failed_check, follow_up, elsewhere])
        await session.flush()
        session.add_all([fire, price, dismissed])
        session.add_all(
            [
                published(first, "rectification_required", date(2026, 11, 2), PUBLISHED - timedelta(days=30),
                          serious=1, general=1),
                published(failed_check, "rectification_required", date(2026, 11, 20), PUBLISHED - timedelta(days=12)),
                published(follow_up, "compliant", date(2026, 12, 6), PUBLISHED),
                published(elsewhere, "compliant", date(2026, 12, 1), PUBLISHED),
            ]
        )  # fmt: skip

    response = await client.get(RESULTS, params={"institution": str(iid)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3, "only this institution's results"
    newest, middle, oldest = body["items"]
    assert [r["task_id"] for r in body["items"]] == [str(follow_up.id), str(failed_check.id), str(first.id)]

    # the date bug: published at 2026-12-05T17:30Z is the 6th in Beijing, the day of the inspection
    assert newest["published_at"].startswith("2026-12-05T17:30")
    assert newest["published_on"] == "2026-12-06"
    assert newest["inspected_on"] == "2026-12-06"

    assert (newest["inspection_type"], newest["inspection_type_zh"]) == ("follow_up", "整改复查")
    assert newest["kind"] == "targeted"
    assert newest["follow_up_of"] == {
        "task_id": str(first.id),
        "title_zh": "占用、堵塞、封闭疏散通道或安全出口，或门窗设置影响逃生和灭火救援的障碍物",
        "rectified": True,
    }
    assert middle["follow_up_of"]["rectified"] is False, "the first follow-up did not find it rectified"
    assert oldest["follow_up_of"] is None
    assert (oldest["inspection_type"], oldest["inspection_type_zh"]) == ("random", "双随机抽查")
    assert oldest["conclusion_zh"] == CONCLUSION_ZH["rectification_required"] == "责令整改"

    fire_out, price_out = oldest["violations"]  # the dismissed one is not public
    assert fire_out == {
        "code": "FIRE_EXIT_OBSTRUCTED",
        "title_zh": "占用、堵塞、封闭疏散通道或安全出口，或门窗设置影响逃生和灭火救援的障碍物",
        "severity": "serious",
        "severity_zh": "严重",
        "legal_basis": fire_out["legal_basis"],
        "rectification_due": "2026-11-30",
        "status": "closed",
        "status_zh": "已整改（复查确认）",
        "closed_on": "2026-12-02",
        "follow_ups": [
            {"task_id": str(failed_check.id), "inspected_on": "2026-11-20", "rectified": False},
            {"task_id": str(follow_up.id), "inspected_on": "2026-12-06", "rectified": True},
        ],
    }
    assert "《消防法》" in fire_out["legal_basis"]
    assert (price_out["status"], price_out["status_zh"], price_out["follow_ups"]) == (
        "rectification_reported",
        "已报告整改，待复查",
        [],
    )
    # nothing personal: not the inspector's description, not the person concerned
    assert "张某某" not in response.text
    assert PERSON_REF not in response.text
    assert "recorded_by" not in response.text
    assert "description" not in response.text

    assert (await client.get(RESULTS, params={"institution": "not-a-uuid"})).status_code == 422
