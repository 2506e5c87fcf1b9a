"""Route × caller × *whose data* (issue 16, findings 5 and 6), against the four real services.

The role matrix (test_access_matrix) proves who may call a route at all; these prove whose data a
caller who may call it reaches: a filing officer of another district (越秀 440104, the institution
is 天河 440106) is refused every read and write of the institution's data in every service; an
inspector not on the task's team is refused the task; an agency without a data-sharing grant is
refused every answer an agency may read, and an agency with one gets only the fields its grant
covers. Each table is checked against the services' route tables, so a new route that touches an
institution's data, a task or an agency answer and is not listed here fails the test.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from services.inspection.reference import checklist, violation_catalogue
from tests.filing.support import filing_body
from tests.security.scope_support import (
    HEALTH,
    MARKET,
    NOBODY,
    NOT_ON_TEAM,
    ON_TEAM,
    OPS,
    POLICE,
    SUPERVISOR,
    TIANHE,
    YUEXIU,
    build_world,
    platform,
    resident_id,
    routes_of,
    self_assessment,
)
from tests.support import Platform, eventually, token

__all__ = ["platform"]  # the fixture


def code_of(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


async def test_finding_5_officers_reach_only_their_districts_and_inspectors_only_their_tasks(
    platform: Platform,
) -> None:
    p = platform
    w = await build_world(p)
    inst, staff_id = w.institution_id, str(uuid.uuid4())
    assessed = await p.clients["inspection"].post("/v1/quality/assessments", json=self_assessment(inst), headers=TIANHE)
    assert assessed.status_code == 201, assessed.text
    assessment_id = assessed.json()["id"]
    hire = {
        "name": "李小红",
        "id_number": resident_id(17),
        "role": "carer",
        "certificates": [{"kind": "保育师证", "number": "BY-2024-00017", "expires_on": "2029-06-30"}],
        "health_certificate_expires_on": (date.today() + timedelta(days=300)).isoformat(),
        "hired_on": (date.today() - timedelta(days=7)).isoformat(),
    }
    report = {
        "enrolment": [{"class_type": "toddler", "children": 12}],
        "staff": {"carers": 5, "health": 1, "principal": 1, "other": 2},
        "incidents": {"count": 0, "descriptions": []},
        "fees": {"monthly_fee_yuan": 3800, "puhui_monthly_fee_yuan": 2000},
    }
    # (service, method, route template, concrete path, body): every officer route on the institution's data
    cases: list[tuple[str, str, str, str, Any]] = [
        ("filing", "POST", "/v1/institutions", "/v1/institutions", filing_body({})),
        ("filing", "GET", "/v1/institutions/{institution_id}", f"/v1/institutions/{inst}", None),
        ("filing", "PUT", "/v1/institutions/{institution_id}", f"/v1/institutions/{inst}", filing_body({})),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/decision",
            f"/v1/institutions/{inst}/decision",
            {"decision": "file"},
        ),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/changes",
            f"/v1/institutions/{inst}/changes",
            {"name": "天河区新苗托育中心"},
        ),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/deregistration",
            f"/v1/institutions/{inst}/deregistration",
            {"reason": "停止办学"},
        ),
        (
            "filing",
            "GET",
            "/v1/institutions/{institution_id}/suspension",
            f"/v1/institutions/{inst}/suspension",
            None,
        ),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/suspension/proposal",
            f"/v1/institutions/{inst}/suspension/proposal",
            {"outcome": "resume", "reason": "整改到位"},
        ),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/suspension/decision",
            f"/v1/institutions/{inst}/suspension/decision",
            {"outcome": "resume"},
        ),
        ("filing", "GET", "/v1/documents/{sha256}", f"/v1/documents/{w.document}", None),
        ("filing", "GET", "/v1/institutions/{institution_id}/staff", f"/v1/institutions/{inst}/staff", None),
        ("filing", "POST", "/v1/institutions/{institution_id}/staff", f"/v1/institutions/{inst}/staff", hire),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/staff/roster",
            f"/v1/institutions/{inst}/staff/roster",
            {"items": [{**hire, "name": "王小明", "id_number": resident_id(18)}]},
        ),
        (
            "filing",
            "GET",
            "/v1/institutions/{institution_id}/staff/{staff_id}",
            f"/v1/institutions/{inst}/staff/{staff_id}",
            None,
        ),
        (
            "filing",
            "DELETE",
            "/v1/institutions/{institution_id}/staff/{staff_id}",
            f"/v1/institutions/{inst}/staff/{staff_id}",
            None,
        ),
        ("filing", "GET", "/v1/institutions/{institution_id}/staffing", f"/v1/institutions/{inst}/staffing", None),
        (
            "filing",
            "GET",
            "/v1/institutions/{institution_id}/annual-reports/{year}",
            f"/v1/institutions/{inst}/annual-reports/2025",
            None,
        ),
        (
            "filing",
            "POST",
            "/v1/institutions/{institution_id}/annual-reports/{year}",
            f"/v1/institutions/{inst}/annual-reports/2025",
            report,
        ),
        ("inspection", "POST", "/v1/quality/assessments", "/v1/quality/assessments", self_assessment(inst)),
        (
            "inspection",
            "GET",
            "/v1/quality/assessments/{assessment_id}",
            f"/v1/quality/assessments/{assessment_id}",
            None,
        ),
        (
            "inspection",
            "GET",
            "/v1/quality/institutions/{institution_id}/assessments",
            f"/v1/quality/institutions/{inst}/assessments",
            None,
        ),
    ]
    # Officer routes that touch no one institution's data: uploads, the audit, the work queue (scoped
    # by listing, checked below) and annual-report completion (per-district counts, public as statistics).
    not_about_one_institution = {
        ("filing", "POST", "/v1/documents"),
        ("filing", "GET", "/v1/institutions"),
        ("filing", "GET", "/v1/annual-reports/completion"),
    }
    listed = {(s, m, t) for s, m, t, _, _ in cases}
    for service in ("filing", "inspection", "credit", "reporting"):
        for method, path, declared in routes_of(p, service):
            if any("filing_officer" in roles for roles in declared):
                route = (service, method, path)
                if path.startswith("/v1/work/"):  # the work queues list, scoped by listing (checked below)
                    continue
                assert route in listed or route in not_about_one_institution, f"officer route not covered: {route}"

    problems = []
    for service, method, template, path, body in cases:
        other = await p.clients[service].request(method, path, json=body, headers=YUEXIU)
        if (other.status_code, code_of(other)) != (403, "district_out_of_scope"):
            problems.append(f"{method} {template} by 440104: {other.status_code} {other.text[:200]}")
        elif "documents" not in template and "天河区" not in other.json()["error"]["message"]:
            problems.append(f"{method} {template}: the refusal does not say whose district it is")
        if method == "GET":  # the institution's own district reads what the other is refused
            mine = await p.clients[service].request(method, path, headers=TIANHE)
            if mine.status_code == 403:
                problems.append(f"{method} {template} by 440106: {mine.status_code} {mine.text[:200]}")
    assert not problems, "\n".join(problems)
    queue = (await p.clients["filing"].get("/v1/institutions", headers=YUEXIU)).json()
    assert inst not in [i["id"] for i in queue["items"]]
    assert inst in [
        i["id"] for i in (await p.clients["filing"].get("/v1/institutions", headers=TIANHE)).json()["items"]
    ]
    for reader in (SUPERVISOR, OPS):  # the city's roles read every district
        assert (await p.clients["filing"].get(f"/v1/institutions/{inst}/staff", headers=reader)).status_code == 200
    # the work queues (each in tests/*/test_work.py): another district's officer gets its own items only
    for q in (await p.clients["filing"].get("/v1/work/summary", headers=YUEXIU)).json()["queues"]:
        items = (await p.clients["filing"].get(q["link"], headers=YUEXIU, params={"page_size": 100})).json()["items"]
        assert {i["district"]["code"] for i in items} <= {"440104"}, q["queue"]
        assert inst not in {(i["institution"] or {}).get("id") for i in items}, q["queue"]

    # an inspector not on the task's team: every task route refuses them; a member reads it
    insp = p.clients["inspection"]
    stranger = token("inspector", subject=NOT_ON_TEAM)
    member = token("inspector", subject=ON_TEAM[0])
    item = next(iter(checklist()))
    violation = next(iter(violation_catalogue()))
    task_cases: list[tuple[str, str, Any]] = [
        ("GET", "/v1/tasks/{task_id}", None),
        ("POST", "/v1/tasks/{task_id}/check-in", {"lat": 23.1291, "lng": 113.3240}),
        ("PUT", "/v1/tasks/{task_id}/findings", {"items": [{"item_code": item, "result": "pass"}]}),
        ("POST", "/v1/tasks/{task_id}/violations", {"code": violation, "description": "现场检查发现问题"}),
        ("POST", "/v1/tasks/{task_id}/submit", None),
        ("POST", "/v1/tasks/{task_id}/evidence", None),  # the photo's bytes: refused before they are read
        ("GET", "/v1/tasks/{task_id}/evidence/{sha256}", None),
    ]
    for method, path, declared in routes_of(p, "inspection"):
        if "{task_id}" in path and any("inspector" in roles for roles in declared):
            assert (method, path) in {(m, t) for m, t, _ in task_cases}, f"task route not covered: {method} {path}"
    for method, template, body in task_cases:
        r = await insp.request(
            method,
            template.replace("{task_id}", w.task_id).replace("{sha256}", "0" * 64),
            json=body,
            headers={**stranger, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert (r.status_code, code_of(r)) == (403, "not_on_team"), f"{method} {template}: {r.status_code} {r.text}"
    assert (await insp.get(f"/v1/tasks/{w.task_id}", headers=member)).status_code == 200


async def test_finding_6_agencies_read_only_what_their_grant_covers(platform: Platform) -> None:
    p = platform
    w = await build_world(p)
    inst = w.institution_id
    plan = await p.clients["inspection"].post(
        "/v1/plans",
        json={
            "name": "2027年第一季度天河区托育机构双随机抽查",
            "districts": ["440106"],
            "window_start": (date.today() + timedelta(days=30)).isoformat(),
            "window_end": (date.today() + timedelta(days=60)).isoformat(),
        },
        headers=SUPERVISOR,
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    committed = await p.clients["inspection"].post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)
    assert committed.status_code == 200, committed.text

    async def summarised() -> bool:
        r = await p.clients["reporting"].get(f"/v1/institutions/{inst}/summary", headers=OPS)
        return r.status_code == 200 and r.json()["status"] == "filed"

    await eventually(summarised)

    # Every answer an agency may read, in every service: an agency without a grant gets 403.
    concrete = {
        "{institution_id}": inst,
        "{plan_id}": plan_id,
        "{list_name}": "industry_ban",
    }
    params = {
        "/v1/ledger/proof/inclusion": "?index=0&size=1",
        "/v1/ledger/proof/consistency": "?from=1&to=1",
    }
    agency_routes = 0
    for service in ("filing", "inspection", "credit", "reporting"):
        for method, path, declared in routes_of(p, service):
            if not any("agency:*" in roles for roles in declared):
                continue
            agency_routes += 1
            url = path
            for name, value in concrete.items():
                url = url.replace(name, value)
            r = await p.clients[service].request(method, url + params.get(path, ""), headers=NOBODY)
            assert (r.status_code, code_of(r)) == (403, "no_data_sharing_grant"), f"{service} {method} {path}: {r.text}"
            assert "授权" in r.json()["error"]["message"]
    assert agency_routes >= 9, agency_routes

    # The institution summary holds only the fields the grant covers. 公安 (public_security) is
    # granted the filed institution's name, address and location and confirmed violations; no staff,
    # slots, annual report or credit grade.
    reporting = p.clients["reporting"]
    police = await reporting.get(f"/v1/institutions/{inst}/summary", headers=POLICE)
    assert police.status_code == 200, police.text
    assert set(police.json()) == {
        "institution_id",
        "status",
        "name",
        "district_code",
        "street_code",
        "violations",
        "as_of",
    }
    assert set(police.json()["violations"]) == {"confirmed", "open", "open_by_severity", "open_items"}
    full = (await reporting.get(f"/v1/institutions/{inst}/summary", headers=OPS)).json()
    assert {"staff", "annual_report", "credit_grade", "total_slots"} <= set(full)
    health = (await reporting.get(f"/v1/institutions/{inst}/summary", headers=HEALTH)).json()
    assert {"staff", "annual_report", "total_slots"} <= set(health)

    # Credit lists: market regulation sees list members without the reason (not in its grant);
    # health has nothing of the lists in its grant: 403; police sees the industry ban (person.banned)
    # but not the serious-dishonesty list.
    credit = p.clients["credit"]
    market = await credit.get("/v1/credit/lists/serious_dishonesty", headers=MARKET)
    assert market.status_code == 200, market.text
    assert set(market.json()) == {"list_name", "title", "legal_basis", "items", "total"}
    assert (await credit.get("/v1/credit/lists/serious_dishonesty", headers=HEALTH)).status_code == 403
    assert (await credit.get("/v1/credit/lists/serious_dishonesty", headers=POLICE)).status_code == 403
    assert (await credit.get("/v1/credit/lists/industry_ban", headers=POLICE)).status_code == 200

    # Plans and draw records: no agency's grant holds the v1 plan events or the task events these
    # answers are built from, so none reads them here (the draw names the institutions to be
    # inspected before the window opens); ops and supervisors read them whole. (The v2 plan events,
    # public once committed/drawn, reach two agencies through the ledger: test_ledger_fields.)
    for agency in (MARKET, POLICE, HEALTH):
        for path in ("/v1/plans", f"/v1/plans/{plan_id}", f"/v1/plans/{plan_id}/draw"):
            r = await p.clients["inspection"].get(path, headers=agency)
            assert (r.status_code, code_of(r)) == (403, "no_data_sharing_grant"), f"{path}: {r.text}"
    draw = await p.clients["inspection"].get(f"/v1/plans/{plan_id}/draw", headers=OPS)
    assert draw.status_code == 200
    assert draw.json()["commitment"] == committed.json()["commitment"]
