"""The inspection service's new HTTP surface against real PostgreSQL (no broker needed): the
versioned catalogue, public complaints (every bad input a 4xx naming the field; a receipt reads only
its own complaint; bursts get 429), triage and per-district statistics checked against hand counts,
unlicensed-case plans and the overdue gauge, and quality assessments (a veto item fails the
assessment whatever the points; a used scheme version cannot change)."""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

import shared
from services.inspection.pool import service as pool_service
from services.inspection.quality.scheme import schemes
from services.inspection.unlicensed import jobs as unlicensed_jobs
from shared.db import Database
from tests.inspection.support import filed, inspector_body
from tests.support import create_app, running, settings_for, token

SUPERVISOR = token("supervisor", subject="sup-1")
OFFICER = token("filing_officer", subject="officer-1", districts=["440106"])  # the institutions here are 天河区
INSPECTOR = token("inspector", subject="assessor-1")
STRANGER = token("inspector", subject="not-registered")
OPS = token("ops", subject="ops-1")
DATA = Path(shared.__file__).resolve().parent / "reference_data"
UNVERIFIED = re.compile(r"〔(二手|草案措辞|条号未核|措辞未核|未核)")


class Env:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
        self.app, self.client, self.db = app, client, db

    async def file(self, district: str = "440106", **kw: Any) -> str:
        event = filed(district, **kw)
        async with self.db.transaction() as session:
            await pool_service.apply_filed(session, event)
        return str(event.institution_id)

    async def complain(self, body: dict[str, Any], ip: str = "10.0.0.1") -> httpx.Response:
        return await self.client.post("/v1/public/complaints", json=body, headers={"X-Forwarded-For": ip})


@pytest.fixture
async def env(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Env]:
    db = await rollback_db("inspection")
    settings = settings_for(
        "inspection",
        run_background_workers=False,
        trusted_proxies=["127.0.0.1"],  # the test client is the proxy; X-Forwarded-For names the client
        complaint_ip_burst=3,
        complaint_ip_per_hour=1,
        complaint_global_burst=8,
        complaint_global_per_hour=1,
        receipt_lookup_ip_burst=6,
        receipt_lookup_ip_per_hour=1,
    )
    app = create_app("inspection", settings, db)
    async with running(app) as client:
        yield Env(app, client, db)


def address_complaint(**over: Any) -> dict[str, Any]:
    body = {
        "district": "天河区",
        "street_code": "440106001",
        "address": "天河路 1 号 2 楼",
        "category": "unlicensed",
        "description": "小区里有人家里托管了很多婴幼儿，没有任何公示。",
    }
    return {**body, **over}


# --- catalogue --------------------------------------------------------------------------------------


async def test_catalogue_is_versioned_and_keeps_unverified_bases_marked(env: Env) -> None:
    checklist = (await env.client.get("/v1/catalogue/checklist")).json()
    violations = (await env.client.get("/v1/catalogue/violations")).json()
    with (DATA / "inspection_checklist.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (DATA / "violation_catalogue.csv").open(encoding="utf-8") as fh:
        vrows = list(csv.DictReader(fh))
    assert checklist["version"] == violations["version"] == "2024-v1"
    assert [i["item_code"] for i in checklist["items"]] == [r["item_code"] for r in rows]
    assert checklist["unverified_count"] == sum(1 for r in rows if UNVERIFIED.search(r["basis"]))
    assert violations["unverified_count"] == sum(1 for r in vrows if UNVERIFIED.search(r["basis"]))
    by_code = {i["item_code"]: i for i in checklist["items"]}
    assert by_code["CHK-SC-06"]["basis_verified"] is False
    assert any("〔未核〕" in n for n in by_code["CHK-SC-06"]["basis_notes_zh"])
    assert by_code["CHK-QL-01"]["recommended_standard"] is True
    v = {i["code"]: i for i in violations["items"]}
    assert v["UNFILED_OPERATION"]["basis_verified"] is True
    assert v["UNFILED_OPERATION"]["basis_notes_zh"] == []
    assert v["CHILD_UNSUPERVISED_OR_MISSING"]["basis_verified"] is False


# --- complaints: input, privacy, limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "field", "code"),
    [
        ({"category": "other", "description": "描述足够长的一段投诉内容"}, 422, "institution_id", "subject_required"),
        (address_complaint(district=None), 422, "district", "district_required"),
        (address_complaint(district="深圳市"), 422, "district", "unknown_district"),
        (address_complaint(street_code="440104001"), 422, "street_code", "street_not_in_district"),
        (address_complaint(street_code="12"), 422, "street_code", "string_pattern_mismatch"),
        (address_complaint(category="noise"), 422, "category", "literal_error"),
        (address_complaint(description="太短"), 422, "description", "string_too_short"),
        (address_complaint(description="长" * 1001), 422, "description", "string_too_long"),
        (address_complaint(contact="1"), 422, "contact", "string_too_short"),
        (address_complaint(address="天河路\x001号"), 422, "address", "control_characters"),
        (address_complaint(institution_id=str(uuid.uuid4())), 422, "address", "subject_required"),
        (address_complaint(extra=1), 422, "extra", "extra_forbidden"),
        (
            {"institution_id": str(uuid.uuid4()), "category": "safety", "description": "描述足够长的一段投诉内容"},
            422,
            "institution_id",
            "institution_not_found",
        ),
    ],
)
async def test_bad_complaints_get_4xx_naming_field_and_code(
    env: Env, body: dict[str, Any], status: int, field: str, code: str
) -> None:
    r = await env.complain({k: v for k, v in body.items() if v is not None}, ip=f"10.1.{uuid.uuid4().int % 250}.1")
    assert r.status_code == status, r.text
    assert (r.json()["error"]["field"], r.json()["error"]["code"]) == (field, code)
    assert r.json()["error"]["message"]


async def test_a_receipt_reads_only_its_own_complaint_and_never_a_person(env: Env) -> None:
    iid = await env.file(name="天河区向日葵托育中心")
    mine = await env.complain(
        {
            "institution_id": iid,
            "category": "safety",
            "description": "午睡室门口堆放杂物，堵住了安全出口。",
            "contact": "13800138000",
        },
        ip="10.2.0.1",
    )
    other = await env.complain(address_complaint(operator_name="张阿姨托管"), ip="10.2.0.2")
    assert mine.status_code == other.status_code == 201
    receipt, other_receipt = mine.json()["receipt"], other.json()["receipt"]
    assert re.fullmatch(r"[A-Z2-7]{10}", receipt)
    assert receipt != other_receipt
    view = (await env.client.get(f"/v1/public/complaints/{receipt.lower()}")).json()
    assert set(view) == {"receipt", "status", "status_zh", "received_on", "outcome_zh"}
    assert view["status"] == "received"
    body = str(view)
    for secret in ("13800138000", "向日葵", iid, "午睡室", "张阿姨"):
        assert secret not in body
    # a near-miss code finds nothing; a malformed one is a 422 naming the receipt
    flipped = receipt[:-1] + ("A" if receipt[-1] != "A" else "B")
    if flipped != other_receipt:
        assert (await env.client.get(f"/v1/public/complaints/{flipped}")).status_code == 404
    bad = await env.client.get("/v1/public/complaints/not-a-code!")
    assert (bad.status_code, bad.json()["error"]["field"], bad.json()["error"]["code"]) == (
        422,
        "receipt",
        "receipt_invalid",
    )
    # the complaint list, details and stats are for supervisors only
    for path in ("/v1/complaints", "/v1/complaints/stats"):
        assert (await env.client.get(path)).status_code == 401
        assert (await env.client.get(path, headers=OFFICER)).status_code == 403
    # the contact is stored encrypted (never in clear in the table) and shown only to a supervisor
    async with env.db.transaction() as session:
        stored = (
            await session.execute(text("SELECT contact_encrypted FROM complaint WHERE contact_encrypted IS NOT NULL"))
        ).scalar_one()
    assert b"13800138000" not in bytes(stored)
    listed = (await env.client.get("/v1/complaints", headers=SUPERVISOR)).json()
    assert all("contact" not in item for item in listed["items"])
    mine_id = next(i["id"] for i in listed["items"] if i["institution_id"] == iid)
    assert (await env.client.get(f"/v1/complaints/{mine_id}", headers=SUPERVISOR)).json()["contact"] == "13800138000"


async def test_bursts_beyond_the_limit_get_429_with_retry_after(env: Env) -> None:
    for _ in range(3):
        assert (await env.complain(address_complaint(), ip="10.3.0.1")).status_code == 201
    limited = await env.complain(address_complaint(), ip="10.3.0.1")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # a bad request costs a token too (it cannot be used to probe for free)
    assert (await env.complain(address_complaint(description="短"), ip="10.3.0.2")).status_code == 422
    # another client still gets through, until the global bucket (8) is empty
    results = [(await env.complain(address_complaint(), ip=f"10.3.1.{n}")).status_code for n in range(6)]
    assert results == [201, 201, 201, 201, 429, 429]
    # receipt look-ups are limited per client as well
    codes = [
        (await env.client.get("/v1/public/complaints/AAAAAAAAAA", headers={"X-Forwarded-For": "10.4.0.1"})).status_code
        for _ in range(7)
    ]
    assert codes == [404] * 6 + [429]
    # the clock moves on: the buckets refill
    env.app.state.clock = lambda: datetime.now(UTC) + timedelta(hours=3)
    assert (await env.complain(address_complaint(), ip="10.3.0.1")).status_code == 201


# --- triage and statistics ----------------------------------------------------------------------------


async def test_triage_actions_and_per_district_stats_match_hand_counts(env: Env) -> None:
    iid = await env.file("440106", name="天河区一号托育中心")
    other = await env.file("440104", name="越秀区二号托育中心")
    a = [str(uuid.uuid4()) for _ in range(2)]
    for n, subject in enumerate(("insp-th-1", "insp-th-2")):
        r = await env.client.post("/v1/inspectors", json=inspector_body(subject, ["天河区"]), headers=SUPERVISOR)
        a[n] = r.json()["id"]

    async def new(body: dict[str, Any], ip: str) -> str:
        r = await env.complain(body, ip=ip)
        assert r.status_code == 201, r.text
        listed = (await env.client.get("/v1/complaints?page_size=100", headers=SUPERVISOR)).json()["items"]
        return str(listed[0]["id"])

    about_th = {"institution_id": iid, "category": "abuse", "description": "孩子回家后身上有不明淤青。"}
    c1 = await new(about_th, "10.5.0.1")
    c2 = await new(address_complaint(), "10.5.0.2")
    c3 = await new({**about_th, "institution_id": other, "category": "fees"}, "10.5.0.3")
    c4 = await new(address_complaint(district="越秀区", street_code=None), "10.5.0.4")
    await new(address_complaint(category="other"), "10.5.0.5")  # stays untriaged

    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    bad = await env.client.post(
        f"/v1/complaints/{c2}/triage",
        json={"action": "targeted_inspection", "reason": "核查", "inspector_ids": a, "due_by": due},
        headers=SUPERVISOR,
    )
    assert (bad.status_code, bad.json()["error"]["code"], bad.json()["error"]["field"]) == (
        422,
        "institution_required",
        "action",
    )
    missing = await env.client.post(
        f"/v1/complaints/{c1}/triage", json={"action": "targeted_inspection", "reason": "核查"}, headers=SUPERVISOR
    )
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "inspector_ids")
    t = await env.client.post(
        f"/v1/complaints/{c1}/triage",
        json={"action": "targeted_inspection", "reason": "涉嫌虐童，立即核查", "inspector_ids": a, "due_by": due},
        headers=SUPERVISOR,
    )
    assert t.status_code == 200, t.text
    task = (await env.client.get(f"/v1/tasks/{t.json()['task_id']}", headers=SUPERVISOR)).json()
    assert task["kind"] == "targeted"
    assert task["institution"]["institution_id"] == iid
    again = await env.client.post(
        f"/v1/complaints/{c1}/triage", json={"action": "close", "reason": "重复"}, headers=SUPERVISOR
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "complaint_already_triaged")
    assert (
        await env.client.post(
            f"/v1/complaints/{c2}/triage",
            json={"action": "open_unlicensed_case", "reason": "无备案"},
            headers=SUPERVISOR,
        )
    ).status_code == 200
    no_agency = await env.client.post(
        f"/v1/complaints/{c3}/triage", json={"action": "referral", "reason": "收费纠纷"}, headers=SUPERVISOR
    )
    assert (no_agency.status_code, no_agency.json()["error"]["field"]) == (422, "referred_to")
    assert (
        await env.client.post(
            f"/v1/complaints/{c3}/triage",
            json={"action": "referral", "reason": "收费纠纷", "referred_to": "越秀区市场监督管理局"},
            headers=SUPERVISOR,
        )
    ).status_code == 200
    assert (
        await env.client.post(
            f"/v1/complaints/{c4}/triage",
            json={"action": "close", "reason": "地址不存在", "public_reply": "经现场核实，该地址无托育活动。"},
            headers=SUPERVISOR,
        )
    ).status_code == 200

    stats = (await env.client.get("/v1/complaints/stats", headers=SUPERVISOR)).json()
    rows = {d["district_code"]: d for d in stats["districts"]}
    # hand counts: 天河 c1 (investigating, abuse), c2 (investigating, unlicensed), c5 (received, other);
    # 越秀 c3 (referred, fees), c4 (closed, unlicensed); one open unlicensed case in 天河
    assert {k: rows["440106"][k] for k in ("received", "awaiting_triage", "investigating", "referred", "closed")} == {
        "received": 3,
        "awaiting_triage": 1,
        "investigating": 2,
        "referred": 0,
        "closed": 0,
    }
    assert rows["440106"]["by_category"] == {"abuse": 1, "other": 1, "unlicensed": 1}
    assert rows["440106"]["open_unlicensed_cases"] == 1
    assert {k: rows["440104"][k] for k in ("received", "referred", "closed", "open_unlicensed_cases")} == {
        "received": 2,
        "referred": 1,
        "closed": 1,
        "open_unlicensed_cases": 0,
    }
    assert stats["total_received"] == 5
    assert stats["total_open_unlicensed_cases"] == 1
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    empty = (await env.client.get(f"/v1/complaints/stats?from={tomorrow}", headers=SUPERVISOR)).json()
    assert empty["total_received"] == 0
    assert empty["total_open_unlicensed_cases"] == 1
    reversed_ = await env.client.get(f"/v1/complaints/stats?from={tomorrow}&to=2020-01-01", headers=SUPERVISOR)
    assert (reversed_.status_code, reversed_.json()["error"]["field"]) == (422, "from")


# --- unlicensed cases: plan, overdue gauge, close-down -------------------------------------------------


def gauge(text_: str, name: str) -> float:
    for family in text_string_to_metric_families(text_):
        if family.name == name:
            return sum(s.value for s in family.samples)
    raise AssertionError(f"{name} not exported")


async def test_guidance_plan_overdue_gauge_and_close_down(env: Env) -> None:
    r = await env.complain(address_complaint(), ip="10.6.0.1")
    assert r.status_code == 201
    cid = (await env.client.get("/v1/complaints", headers=SUPERVISOR)).json()["items"][0]["id"]
    env.app.state.clock = lambda: datetime.now(UTC) - timedelta(days=40)  # opened 40 days ago
    triaged = await env.client.post(
        f"/v1/complaints/{cid}/triage",
        json={"action": "open_unlicensed_case", "reason": "疑似无证"},
        headers=SUPERVISOR,
    )
    case_id = triaged.json()["case_id"]
    env.app.state.clock = lambda: datetime.now(UTC)
    case = (await env.client.get(f"/v1/unlicensed-cases/{case_id}", headers=OPS)).json()
    # default plan: due after 5, 30 and 60 days → 35 and 10 days ago are overdue, the third is not
    assert [s["overdue"] for s in case["steps"]] == [True, True, False]
    assert case["overdue_steps"] == 2
    await unlicensed_jobs.measure_cases(env.app.state.context)
    metrics = (await env.client.get("/metrics")).text
    assert gauge(metrics, unlicensed_jobs.OVERDUE) == 2
    assert gauge(metrics, unlicensed_jobs.OPEN) == 1

    first = case["steps"][0]["id"]
    done = await env.client.post(
        f"/v1/unlicensed-cases/{case_id}/steps/{first}/complete", json={"note": "已告知"}, headers=SUPERVISOR
    )
    assert done.status_code == 200
    assert done.json()["overdue_steps"] == 1
    twice = await env.client.post(f"/v1/unlicensed-cases/{case_id}/steps/{first}/complete", headers=SUPERVISOR)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "step_already_completed")
    # the supervisor re-plans the open steps; the completed one stays
    soon = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=45)).date().isoformat()
    second = case["steps"][1]["id"]
    plan = await env.client.put(
        f"/v1/unlicensed-cases/{case_id}/plan",
        json={
            "steps": [
                {"step_id": second, "title_zh": "补办营业执照", "due_on": soon},
                {"title_zh": "提交备案", "due_on": later},
            ]
        },
        headers=SUPERVISOR,
    )
    assert plan.status_code == 200, plan.text
    assert [(s["title_zh"], s["completed_at"] is not None) for s in plan.json()["steps"]] == [
        (case["steps"][0]["title_zh"], True),
        ("补办营业执照", False),
        ("提交备案", False),
    ]
    assert plan.json()["overdue_steps"] == 0
    edit_done = await env.client.put(
        f"/v1/unlicensed-cases/{case_id}/plan",
        json={"steps": [{"step_id": first, "title_zh": "改期", "due_on": soon}]},
        headers=SUPERVISOR,
    )
    assert (edit_done.status_code, edit_done.json()["error"]["field"]) == (409, "steps.0.step_id")
    bad_uscc = await env.client.patch(
        f"/v1/unlicensed-cases/{case_id}", json={"uscc": "91440106MA59C8XK3X"}, headers=SUPERVISOR
    )
    assert (bad_uscc.status_code, bad_uscc.json()["error"]["field"]) == (422, "uscc")
    no_record = await env.client.post(f"/v1/unlicensed-cases/{case_id}/close-down", json={}, headers=SUPERVISOR)
    assert (no_record.status_code, no_record.json()["error"]["code"]) == (422, "missing")
    closed = await env.client.post(
        f"/v1/unlicensed-cases/{case_id}/close-down",
        json={
            "decision_no": "穗天卫取〔2026〕12号",
            "authority": "天河区卫生健康局",
            "decided_on": datetime.now(UTC).date().isoformat(),
            "measures": ["责令停止托育服务", "协助家长转托"],
            "summary_zh": "经多次指导仍不具备备案条件，依法关停。",
        },
        headers=SUPERVISOR,
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed_down"
    assert closed.json()["enforcement"]["decision_no"] == "穗天卫取〔2026〕12号"
    assert (
        await env.client.patch(
            f"/v1/unlicensed-cases/{case_id}", json={"address": "天河路另一处地址"}, headers=SUPERVISOR
        )
    ).status_code == 409
    await unlicensed_jobs.measure_cases(env.app.state.context)
    metrics = (await env.client.get("/metrics")).text
    assert gauge(metrics, unlicensed_jobs.OVERDUE) == 0
    assert gauge(metrics, unlicensed_jobs.OPEN) == 0


# --- quality assessment ----------------------------------------------------------------------------------


def full_marks(**veto_met: bool) -> list[dict[str, Any]]:
    out = []
    for code, (_, item) in schemes()["wst821-v1"].scheme.items().items():
        answer: dict[str, Any] = {"code": code, "score": item.points}
        if item.veto:
            answer["veto_met"] = veto_met.get(code, True)
        out.append(answer)
    return out


async def test_a_veto_item_fails_the_assessment_whatever_the_points(env: Env) -> None:
    iid = await env.file("440106")
    await env.client.post("/v1/inspectors", json=inspector_body("assessor-1", ["天河区"]), headers=SUPERVISOR)
    body = {"institution_id": iid, "kind": "onsite", "scheme_version": "wst821-v1", "items": full_marks()}
    top = await env.client.post("/v1/quality/assessments", json=body, headers=INSPECTOR)
    assert top.status_code == 201, top.text
    assert (top.json()["score"], top.json()["grade"], top.json()["veto_failed"]) == (1000, "A", False)
    vetoed = await env.client.post(
        "/v1/quality/assessments", json={**body, "items": full_marks(**{"9.4.3": False})}, headers=INSPECTOR
    )
    assert vetoed.status_code == 201, vetoed.text
    v = vetoed.json()
    assert (v["score"], v["grade"], v["veto_failed"], v["veto_failed_items"]) == (1000, "D", True, ["9.4.3"])
    assert v["report"]["grade_by_points"] == "A"
    assert v["report"]["deficiencies"][0]["code"] == "9.4.3"
    # self-assessment by the filing officer on the institution's behalf; reassessment dates per grade
    self_ = await env.client.post("/v1/quality/assessments", json={**body, "kind": "self"}, headers=OFFICER)
    assert self_.status_code == 201
    assert self_.json()["kind"] == "self"
    assert v["reassess_by"] < top.json()["reassess_by"]  # D: 6 months, A: 36
    listed = (await env.client.get(f"/v1/quality/institutions/{iid}/assessments", headers=OPS)).json()
    assert len(listed["items"]) == 3
    assert listed["latest_onsite"]["id"] == v["id"]


@pytest.mark.parametrize(
    ("mutate", "status", "field", "code"),
    [
        (lambda b: b["items"].pop(), 422, "items", "items_missing"),
        (lambda b: b["items"].append(dict(b["items"][0])), 422, "items.27.code", "duplicate_item"),
        (lambda b: b["items"][1].update(score=31), 422, "items.1.score", "score_out_of_range"),
        (lambda b: b["items"][0].pop("veto_met"), 422, "items.0.veto_met", "veto_answer_required"),
        (lambda b: b["items"][1].update(veto_met=True), 422, "items.1.veto_met", "not_a_veto_item"),
        (lambda b: b["items"][1].update(code="X.9"), 422, "items.1.code", "unknown_item"),
        (lambda b: b["items"][1].update(score=-1), 422, "items.1.score", "greater_than_equal"),
        (lambda b: b.update(kind="peer"), 422, "kind", "literal_error"),
        (lambda b: b.update(scheme_version="wst821-v9"), 409, "scheme_version", "scheme_version_not_active"),
        (lambda b: b.update(institution_id=str(uuid.uuid4())), 404, "institution_id", "institution_not_in_pool"),
    ],
)
async def test_bad_assessments_get_4xx_naming_field_and_code(
    env: Env, mutate: Callable[[dict[str, Any]], Any], status: int, field: str, code: str
) -> None:
    iid = await env.file("440106")
    await env.client.post("/v1/inspectors", json=inspector_body("assessor-1", ["天河区"]), headers=SUPERVISOR)
    body = {"institution_id": iid, "kind": "onsite", "scheme_version": "wst821-v1", "items": full_marks()}
    mutate(body)
    r = await env.client.post("/v1/quality/assessments", json=body, headers=INSPECTOR)
    assert r.status_code == status, r.text
    assert (r.json()["error"]["field"], r.json()["error"]["code"]) == (field, code)


async def test_who_may_assess_and_a_changed_scheme_version_is_refused(env: Env) -> None:
    iid = await env.file("440106")
    body = {"institution_id": iid, "kind": "onsite", "scheme_version": "wst821-v1", "items": full_marks()}
    unregistered = await env.client.post("/v1/quality/assessments", json=body, headers=STRANGER)
    assert (unregistered.status_code, unregistered.json()["error"]["code"]) == (403, "not_an_inspector")
    onsite_by_officer = await env.client.post("/v1/quality/assessments", json=body, headers=OFFICER)
    assert (onsite_by_officer.status_code, onsite_by_officer.json()["error"]["field"]) == (403, "kind")
    # the scheme file differs from the one first used under this version → refused with a reason
    async with env.db.transaction() as session:
        await session.execute(
            text("INSERT INTO quality_scheme_use (version, sha256, first_used_at) VALUES ('wst821-v1', :h, now())"),
            {"h": "0" * 64},
        )
    changed = await env.client.post("/v1/quality/assessments", json={**body, "kind": "self"}, headers=OFFICER)
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "scheme_version_changed")
    assert "新版本" in changed.json()["error"]["message"]
    schemes_out = (await env.client.get("/v1/quality/schemes")).json()
    assert schemes_out["active"] == "wst821-v1"
    v1 = schemes_out["items"][0]
    assert v1["grades_confirmed"] is False
    assert v1["veto_list_confirmed"] is False
    assert [d["points"] for d in v1["dimensions"]] == [100, 140, 200, 210, 80, 200, 70]
