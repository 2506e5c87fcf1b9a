"""The inspectors' mobile flow against the running service (real Kafka, real PostgreSQL): the target
pool arrives as filing and credit events, a plan is drawn, the team works its task through the
mobile API with retried writes, a supervisor reviews, and the result is public (一公开)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.kafka import LocalKafka
from services.inspection.reference import checklist
from shared.events import CloudEvent
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS
from tests.inspection.support import (
    SUPERVISOR,
    envelope_bytes,
    filed,
    graded,
    hired,
    inspector_body,
    observe,
    person_ref,
    reveal_and_draw,
)
from tests.support import Platform, eventually, produce_raw, read_topic, token

A = token("inspector", subject="inspector-a")
B = token("inspector", subject="inspector-b")
OTHER = token("inspector", subject="inspector-c")
ITEMS = list(checklist())[:3]


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    async with Platform(kafka.bootstrap, namespace, {"inspection": fresh_db("inspection")}) as p:
        yield p


def key(headers: dict[str, str], value: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": value}


async def counts(p: Platform) -> dict[str, int]:
    return {
        table: int(await p.scalar("inspection", f"SELECT count(*) FROM {table}"))
        for table in ("task_checkin", "violation", "outbox")
    }


async def late_published(p: Platform) -> float:
    text = (await p.clients["inspection"].get("/metrics")).text
    for family in text_string_to_metric_families(text):
        if family.name == "childcare_inspection_results_published_late":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    raise AssertionError("late-publication counter not exported")


async def test_mobile_flow_idempotent_writes_review_and_publication(platform: Platform) -> None:
    p = platform
    client = p.clients["inspection"]
    await eventually(lambda: _ready(p))
    institution = filed(name="天河区小树苗托育中心", lat=23.1291, lng=113.3240)
    iid = str(institution.institution_id)
    staff_ref = person_ref(f"staff-{uuid.uuid4()}")
    await produce_raw(
        p.bootstrap,
        p.topic(FILING_EVENTS),
        [
            (iid.encode(), envelope_bytes(institution, source="/services/filing", subject=iid)),
            (
                iid.encode(),
                envelope_bytes(hired(institution.institution_id, staff_ref), source="/services/filing", subject=iid),
            ),
        ],
    )
    grade = graded(institution.institution_id, "C", datetime.now(UTC))
    await produce_raw(
        p.bootstrap,
        p.topic(CREDIT_EVENTS),
        [(iid.encode(), envelope_bytes(grade, source="/services/credit", subject=iid))],
    )

    async def in_pool() -> bool:
        r = await client.get("/v1/target-institutions", headers=SUPERVISOR)
        return any(i["institution_id"] == iid and i["credit_grade"] == "C" for i in r.json()["items"])

    await eventually(in_pool)

    ids = {}
    for subject, districts in (("inspector-a", ["天河区"]), ("inspector-b", ["天河区"]), ("inspector-c", ["越秀区"])):
        r = await client.post("/v1/inspectors", json=inspector_body(subject, districts), headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        ids[subject] = r.json()["id"]
    plan = (
        await client.post(
            "/v1/plans",
            json={
                "name": "天河区第一季度双随机抽查",
                "districts": ["天河区"],
                "window_start": "2026-03-01",
                "window_end": "2026-03-31",
                "sampling_ratios": {"C": 1},
                "checklist_items": ITEMS,
            },
            headers=SUPERVISOR,
        )
    ).json()
    opened = await observe(client, plan["id"])
    assert (await client.post(f"/v1/plans/{plan['id']}/commit", headers=SUPERVISOR)).status_code == 200
    drawn = await reveal_and_draw(p.apps["inspection"], client, plan["id"], opened)
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["result"]["teams"][0]["inspector_ids"] == sorted(
        [ids["inspector-a"], ids["inspector-b"]], key=drawn.json()["result"]["teams"][0]["inspector_ids"].index
    )

    # my tasks: only the caller's
    mine = (await client.get("/v1/me/tasks", headers=A)).json()
    assert [t["institution"]["institution_id"] for t in mine["items"]] == [iid]
    task_id = mine["items"][0]["id"]
    assert (await client.get("/v1/me/tasks", headers=OTHER)).json()["items"] == []
    detail = (await client.get(f"/v1/tasks/{task_id}", headers=A)).json()
    assert detail["institution"]["name"] == "天河区小树苗托育中心"
    assert detail["institution"]["credit_grade"] == "C"
    assert [c["item_code"] for c in detail["checklist"]] == ITEMS
    assert detail["kind"] == "random"
    assert [s["person_ref"] for s in detail["staff"]] == [staff_ref]

    # another inspector can neither read nor write the task
    assert (await client.get(f"/v1/tasks/{task_id}", headers=OTHER)).status_code == 403
    denied = await client.post(
        f"/v1/tasks/{task_id}/check-in", json={"lat": 23.1, "lng": 113.3}, headers=key(OTHER, "x1")
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "not_on_team"

    # writes need an Idempotency-Key
    missing = await client.post(f"/v1/tasks/{task_id}/check-in", json={"lat": 23.1291, "lng": 113.3240}, headers=A)
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "Idempotency-Key"

    # check-in, retried: one check-in, the same answer
    baseline = await counts(p)
    near = {"lat": 23.1292, "lng": 113.3241}
    first = await client.post(f"/v1/tasks/{task_id}/check-in", json=near, headers=key(A, "checkin-1"))
    retry = await client.post(f"/v1/tasks/{task_id}/check-in", json=near, headers=key(A, "checkin-1"))
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert first.json()["far_from_site"] is False
    reused = await client.post(
        f"/v1/tasks/{task_id}/check-in", json={"lat": 23.2, "lng": 113.3}, headers=key(A, "checkin-1")
    )
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    far = await client.post(
        f"/v1/tasks/{task_id}/check-in", json={"lat": 23.14, "lng": 113.3240}, headers=key(B, "checkin-b")
    )
    assert far.json()["far_from_site"] is True
    assert far.json()["distance_m"] > 1000

    # findings and a violation, each retried
    findings = {"items": [{"item_code": c, "result": "pass"} for c in ITEMS[:2]]}
    r1 = await client.put(f"/v1/tasks/{task_id}/findings", json=findings, headers=key(A, "findings-1"))
    r2 = await client.put(f"/v1/tasks/{task_id}/findings", json=findings, headers=key(A, "findings-1"))
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()
    assert r1.json()["answered"] == 2
    early = await client.post(f"/v1/tasks/{task_id}/submit", headers=key(A, "submit-early"))
    assert early.status_code == 422
    assert early.json()["error"]["code"] == "checklist_incomplete"
    last = {
        "items": [
            {"item_code": ITEMS[2], "result": "fail", "note": "发现保育人员推搡幼儿", "evidence_sha256": ["ab" * 32]}
        ]
    }
    assert (
        await client.put(f"/v1/tasks/{task_id}/findings", json=last, headers=key(B, "findings-b"))
    ).status_code == 200

    bad_code = await client.post(
        f"/v1/tasks/{task_id}/violations",
        json={"code": "NOT_A_CODE", "description": "无此代码"},
        headers=key(A, "v-bad"),
    )
    assert (bad_code.status_code, bad_code.json()["error"]["field"]) == (422, "code")
    stranger = await client.post(
        f"/v1/tasks/{task_id}/violations",
        json={"code": "CHILD_ABUSE", "description": "虐童", "person_ref": person_ref("someone-else")},
        headers=key(A, "v-stranger"),
    )
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (422, "person_not_on_roster")
    violation = {"code": "CHILD_ABUSE", "description": "监控显示保育人员多次推搡、拍打幼儿", "person_ref": staff_ref}
    v1 = await client.post(f"/v1/tasks/{task_id}/violations", json=violation, headers=key(A, "violation-1"))
    v2 = await client.post(f"/v1/tasks/{task_id}/violations", json=violation, headers=key(A, "violation-1"))
    assert v1.status_code == v2.status_code == 201
    assert v1.json() == v2.json()
    assert v1.json()["severity"] == "critical"
    after = await counts(p)
    assert after["task_checkin"] == baseline["task_checkin"] + 2  # A once (retried), B once
    assert after["violation"] == baseline["violation"] + 1

    # every team member signs; retries change nothing
    s1 = await client.post(f"/v1/tasks/{task_id}/submit", headers=key(A, "submit-a"))
    assert s1.status_code == 200, s1.text
    assert s1.json()["status"] == "in_progress"
    assert s1.json()["pending_signatures"] == [ids["inspector-b"]]
    assert (await client.post(f"/v1/tasks/{task_id}/submit", headers=key(A, "submit-a"))).json() == s1.json()
    s2 = await client.post(f"/v1/tasks/{task_id}/submit", headers=key(B, "submit-b"))
    assert s2.json()["status"] == "submitted"
    assert s2.json()["pending_signatures"] == []
    assert s2.json()["publication_due"]
    closed = await client.put(f"/v1/tasks/{task_id}/findings", json=findings, headers=key(A, "findings-late"))
    assert closed.status_code == 409

    # review 30 days later: the violation is confirmed for credit, the result is public and late
    assert await late_published(p) == 0
    p.apps["inspection"].state.clock = lambda: datetime.now(UTC) + timedelta(days=40)
    reviewed = await client.post(f"/v1/tasks/{task_id}/review", json={}, headers=SUPERVISOR)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["result"]["conclusion"] == "non_compliant"
    assert reviewed.json()["result"]["on_time"] is False
    assert await late_published(p) == 1
    again = await client.post(f"/v1/tasks/{task_id}/review", json={}, headers=SUPERVISOR)
    assert again.status_code == 409

    public = await client.get("/v1/public/inspection-results?district=天河区")
    assert public.status_code == 200
    item = public.json()["items"][0]
    assert item["institution_name"] == "天河区小树苗托育中心"
    assert item["violations_by_severity"] == {"minor": 0, "general": 0, "serious": 0, "critical": 1}
    assert staff_ref not in public.text
    assert "inspector" not in public.text
    assert "推搡" not in public.text
    # the text says what was decided (issue 20): the conclusion, the rectification and its deadline,
    # and the consequences of child abuse — not a generic "已依法责令整改"
    text = item["summary_zh"]
    assert text == reviewed.json()["result"]["summary_zh"]
    assert text.startswith("本次检查发现问题1项（特别严重1项），检查结论：不合格，责令整改，整改期限至")
    assert "列入严重失信主体名单、不予信用修复" in text
    assert "终身不得从事婴幼儿照护服务（《人口与计划生育法》第四十一条第二款）" in text
    assert "已依法责令整改" not in text

    # what the credit service gets, read from the topic
    topic = p.topic(INSPECTION_EVENTS)

    async def confirmed() -> list[CloudEvent]:
        records = await read_topic(p.bootstrap, topic)
        events = [CloudEvent.model_validate(json.loads(r.value)) for r in records]
        return [e for e in events if e.type.endswith("violation.confirmed.v1")]

    async def published() -> bool:
        return len(await confirmed()) == 1

    await eventually(published)
    event = (await confirmed())[0]
    assert event.subject == iid
    data: dict[str, Any] = event.data
    assert data["institution_id"] == iid
    assert data["person_ref"] == staff_ref
    assert data["severity"] == "critical"
    assert data["child_abuse"] is True
    assert "未成年人保护法" in data["legal_basis"] or "人口与计划生育法" in data["legal_basis"]


async def _ready(p: Platform) -> bool:
    return (await p.clients["inspection"].get("/readyz")).status_code == 200
