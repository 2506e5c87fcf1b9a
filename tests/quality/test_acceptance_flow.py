"""Acceptance 1, end to end against the real broker with filing, inspection, credit and reporting
running (each on its own fresh database): a public complaint about an unknown address → triage opens
an unlicensed-operator case → a targeted inspection of the site records UNFILED_OPERATION through the
mobile API (Idempotency-Key) → review confirms it → the operator files and is filed through filing's
API → the case closes as filed → the ledger holds every step. Then an on-site quality assessment of
the now-filed institution reaches the public directory and the credit record."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import pytest

from devstack.kafka import LocalKafka
from services.inspection.quality.scheme import schemes
from services.inspection.reference import checklist
from shared.identifiers import uscc_check_char
from shared.reference import districts
from tests.filing.support import filing_body, upload_documents
from tests.support import Platform, eventually, token

SUPERVISOR = token("supervisor", subject="supervisor-yuexiu")
OFFICER = token("filing_officer", subject="officer-yuexiu", districts=sorted(districts()))
DECIDER = token("filing_officer", subject="officer-yuexiu-2", districts=sorted(districts()))  # four eyes
OPS = token("ops", "credit_officer", subject="ops-1")
A = token("inspector", subject="inspector-yx-a")
B = token("inspector", subject="inspector-yx-b")
P = "cn.gov.gz.childcare."


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    urls = {s: fresh_db(s) for s in ("filing", "inspection", "credit", "reporting")}
    async with Platform(kafka.bootstrap, namespace, urls) as p:
        yield p


def new_uscc() -> str:
    body = "91440104MA" + "".join(str(b % 10) for b in uuid.uuid4().bytes[:7])
    return body + uscc_check_char(body)


def key(headers: dict[str, str], value: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": value}


async def ledger(p: Platform) -> list[dict[str, Any]]:
    page = (await p.clients["reporting"].get("/v1/ledger?after=-1&limit=1000", headers=OPS)).json()
    return list(page["entries"])


async def test_complaint_to_unlicensed_case_to_filing_and_the_ledger(platform: Platform) -> None:
    p = platform
    insp = p.clients["inspection"]
    ids = []
    for subject in ("inspector-yx-a", "inspector-yx-b"):
        r = await insp.post(
            "/v1/inspectors",
            json={
                "subject": subject,
                "name": f"检查员{subject[-1]}",
                "agency": "越秀区卫生健康局",
                "badge_number": f"YX-{uuid.uuid4().hex[:8]}",
                "districts": ["越秀区"],
            },
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    # 1. a family reports an unknown operator at an address (anonymous, no login)
    complaint = await insp.post(
        "/v1/public/complaints",
        json={
            "district": "越秀区",
            "street_code": "440104001",
            "address": "越秀区东风中路 88 号 3 楼",
            "operator_name": "小星星托管班",
            "category": "unlicensed",
            "description": "楼上每天有十几个一两岁的孩子被托管，没有看到任何备案公示。",
        },
    )
    assert complaint.status_code == 201, complaint.text
    receipt = complaint.json()["receipt"]
    assert len(receipt) == 10
    status = (await insp.get(f"/v1/public/complaints/{receipt}")).json()
    assert status["status"] == "received"

    listed = (await insp.get("/v1/complaints?district=越秀区", headers=SUPERVISOR)).json()
    assert listed["total"] == 1
    complaint_id = listed["items"][0]["id"]

    # 2. triage opens an unlicensed-operator case (一园一策 plan starts with the default steps)
    triaged = await insp.post(
        f"/v1/complaints/{complaint_id}/triage",
        json={"action": "open_unlicensed_case", "reason": "地址无备案记录，疑似无证照托育"},
        headers=SUPERVISOR,
    )
    assert triaged.status_code == 200, triaged.text
    case_id = triaged.json()["case_id"]
    case = (await insp.get(f"/v1/unlicensed-cases/{case_id}", headers=SUPERVISOR)).json()
    assert case["status"] == "open"
    assert case["source"] == "complaint"
    assert case["district_code"] == "440104"
    assert len(case["steps"]) == 3
    # the operator's identity and location, learnt on the first visit, are recorded on the case
    operator_uscc = new_uscc()
    patched = await insp.patch(
        f"/v1/unlicensed-cases/{case_id}",
        json={"uscc": operator_uscc, "latitude": 23.1290, "longitude": 113.2830},
        headers=SUPERVISOR,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "open"

    # 3. a targeted inspection of the site, worked through the mobile API with retried writes
    task = await insp.post(
        "/v1/targeted-inspections",
        json={
            "case_id": case_id,
            "inspector_ids": ids,
            "reason": "complaint",
            "reason_detail": f"投诉{complaint_id}",
            "due_by": (date.today() + timedelta(days=10)).isoformat(),
        },
        headers=SUPERVISOR,
    )
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    assert task.json()["site"]["case_id"] == case_id
    items = [c.code for c in checklist().values() if c.area == "资质与公示"]
    assert [c["item_code"] for c in (await insp.get(f"/v1/tasks/{task_id}", headers=A)).json()["checklist"]] == items
    here = {"lat": 23.1291, "lng": 113.2831}
    first = await insp.post(f"/v1/tasks/{task_id}/check-in", json=here, headers=key(A, "ci-1"))
    again = await insp.post(f"/v1/tasks/{task_id}/check-in", json=here, headers=key(A, "ci-1"))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["far_from_site"] is False
    findings = {"items": [{"item_code": c, "result": "fail" if c == "CHK-QL-02" else "pass"} for c in items]}
    assert (await insp.put(f"/v1/tasks/{task_id}/findings", json=findings, headers=key(A, "f-1"))).status_code == 200
    violation = {"code": "UNFILED_OPERATION", "description": "现场收托婴幼儿14名，未向卫生健康部门备案"}
    v1 = await insp.post(f"/v1/tasks/{task_id}/violations", json=violation, headers=key(A, "v-1"))
    v2 = await insp.post(f"/v1/tasks/{task_id}/violations", json=violation, headers=key(A, "v-1"))
    assert v1.status_code == v2.status_code == 201
    assert v1.json() == v2.json()
    assert (await insp.post(f"/v1/tasks/{task_id}/submit", headers=key(A, "s-a"))).status_code == 200
    submitted = await insp.post(f"/v1/tasks/{task_id}/submit", headers=key(B, "s-b"))
    assert submitted.json()["status"] == "submitted", submitted.text

    # 4. review confirms the violation; the case carries it
    reviewed = await insp.post(f"/v1/tasks/{task_id}/review", json={"dismissed_violation_ids": []}, headers=SUPERVISOR)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["confirmed_violation_ids"] == [v1.json()["id"]]
    assert reviewed.json()["result"]["institution_name"] == "小星星托管班"
    case = (await insp.get(f"/v1/unlicensed-cases/{case_id}", headers=SUPERVISOR)).json()
    assert case["violation_id"] == v1.json()["id"]
    assert case["status"] == "open"

    # 5. the operator files through the filing service and is filed
    documents = await upload_documents(p.clients["filing"], OFFICER)
    body = filing_body(
        documents,
        uscc=operator_uscc,
        name="越秀区小星星托育中心",
        district="越秀区",
        street_code="440104001",
        address="东风中路88号3楼",
        latitude=23.1290,
        longitude=113.2830,
    )
    filed = await p.clients["filing"].post("/v1/institutions", json=body, headers=OFFICER)
    assert filed.status_code == 201, filed.text
    institution_id = filed.json()["id"]
    decided = await p.clients["filing"].post(
        f"/v1/institutions/{institution_id}/decision", json={"decision": "file"}, headers=DECIDER
    )
    assert decided.status_code == 200, decided.text

    # 6. the case closes as filed, linked to the filing; the complainant sees the outcome
    async def closed() -> bool:
        c = (await insp.get(f"/v1/unlicensed-cases/{case_id}", headers=SUPERVISOR)).json()
        return bool(c["status"] == "filed" and c["institution_id"] == institution_id)

    await eventually(closed)
    public = (await insp.get(f"/v1/public/complaints/{receipt}")).json()
    assert public["status"] == "concluded"
    assert "备案" in public["outcome_zh"]
    assert set(public) == {"receipt", "status", "status_zh", "received_on", "outcome_zh"}

    # 7. an on-site assessment of the filed institution: 950 of 1000 points, no veto failed → A
    scheme = schemes()["wst821-v1"].scheme
    answers: list[dict[str, Any]] = [
        {"code": code, "score": item.points, **({"veto_met": True} if item.veto else {})}
        for code, (_, item) in scheme.items().items()
    ]
    answers[-1]["score"] = answers[-1]["score"] - 20  # D7.3: 0 of 20
    answers[-2]["score"] = answers[-2]["score"] - 10  # D7.2: 10 of 20
    answers[-3]["score"] = answers[-3]["score"] - 20  # D7.1: 10 of 30
    expected_score = 1000 - 20 - 10 - 20

    async def in_pool() -> bool:
        r = await insp.get("/v1/target-institutions?district=越秀区", headers=SUPERVISOR)
        return any(i["institution_id"] == institution_id for i in r.json()["items"])

    await eventually(in_pool)
    assessed = await insp.post(
        "/v1/quality/assessments",
        json={"institution_id": institution_id, "kind": "onsite", "scheme_version": "wst821-v1", "items": answers},
        headers=A,
    )
    assert assessed.status_code == 201, assessed.text
    assert (assessed.json()["score"], assessed.json()["grade"]) == (expected_score, "A")
    assert assessed.json()["report"]["dimensions"][-1] == {
        "code": "D7",
        "title_zh": "机构管理",
        "points": 70,
        "score": 20,
    }

    async def directory_shows_grade() -> bool:
        r = await p.clients["filing"].get(f"/v1/public/institutions/{institution_id}")
        q = r.json().get("quality_assessment")
        return bool(q and q["grade"] == "A" and q["veto_failed"] is False and q["scheme_version"] == "wst821-v1")

    await eventually(directory_shows_grade)

    async def credit_entry() -> bool:
        r = await p.clients["credit"].get(f"/v1/credit/institutions/{institution_id}", headers=OPS)
        return r.status_code == 200 and "quality.onsite_excellent" in r.text

    await eventually(credit_entry)

    # 8. the ledger holds each step's event
    wanted = [
        f"{P}inspection.complaint.received.v1",
        f"{P}inspection.complaint.triaged.v1",
        f"{P}inspection.unlicensed.case_opened.v1",
        f"{P}inspection.unlicensed.plan_set.v1",
        f"{P}inspection.task.assigned.v1",
        f"{P}inspection.task.checked_in.v1",
        f"{P}inspection.violation.recorded.v1",
        f"{P}inspection.task.submitted.v1",
        f"{P}inspection.violation.confirmed.v1",
        f"{P}inspection.result.published.v1",
        f"{P}filing.institution.submitted.v1",
        f"{P}filing.institution.filed.v1",
        f"{P}inspection.unlicensed.case_closed.v1",
        f"{P}inspection.quality.assessed.v1",
    ]

    async def all_ledgered() -> bool:
        types = {e["event_type"] for e in await ledger(p)}
        return set(wanted) <= types

    await eventually(all_ledgered)
    entries = await ledger(p)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_type.setdefault(e["event_type"], []).append(e)
    # one of each (retried mobile writes were not doubled)
    for t in wanted[:3] + wanted[5:7] + wanted[12:]:
        assert len(by_type[t]) == 1, t
    closed_event = by_type[f"{P}inspection.unlicensed.case_closed.v1"][0]
    assert closed_event["subject"] == case_id
    assert closed_event["data"]["outcome"] == "filed"
    assert closed_event["data"]["institution_id"] == institution_id
    confirmed = by_type[f"{P}inspection.violation.confirmed.v1"][0]["data"]
    assert (confirmed["code"], confirmed["institution_id"]) == ("UNFILED_OPERATION", case_id)
    received = by_type[f"{P}inspection.complaint.received.v1"][0]["data"]
    assert "description" not in received
    assert "contact" not in received
    # the case's events share its key (the case id), so Kafka keeps them in order
    case_events = [e["event_type"] for e in entries if e["subject"] == case_id]
    assert case_events.index(f"{P}inspection.unlicensed.case_opened.v1") < case_events.index(
        f"{P}inspection.unlicensed.case_closed.v1"
    )
