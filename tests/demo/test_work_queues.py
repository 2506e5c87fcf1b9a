"""The morning list (issue 20 acceptance) on the demo city: a district supervisor's work summary,
summed over the services, has a non-zero count in every queue the demo produces — 天河区's supervisor
(the demo's account demo-supervisor-440106) in every queue the demo produces anywhere — and every
count of every caller (the city's supervisor and each district's) equals what the services' existing
APIs give with the equivalent filters: the institutions list and each institution's staffing, roster
and pending change (filing); the inspectors' task lists, the tasks with their violations, the
complaints, unlicensed cases and plans (inspection); the lists (credit)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.demo import WORKLOAD_DISTRICT, Api, Generator
from devstack.kafka import LocalKafka
from devstack.postgres import SERVICES
from services.filing.staff.training import TRAINING_REQUIREMENTS
from shared.reference import districts
from shared.settings import ServiceSettings
from shared.workdays import CHINA, china_today
from tests.support import Platform, token

SCALE = 40
SEED = 7
CITY_SUPERVISOR = token("supervisor", "ops", subject="test-supervisor")
CREDIT = token("credit_officer", subject="test-credit")
WORK_SERVICES = ("filing", "inspection", "credit")
TRAINING_REQUIRED = {t.role: t.min_hours for t in TRAINING_REQUIREMENTS}
# the queues the demo produces at this scale (devstack/demo.py): filings still pending, a roster short
# of carers, 天河's principals with 40 training hours, plan A's violations within their rectification
# deadline, the serious-dishonesty listing of the institution with the child-abuse case and the
# industry ban of its abuser
# ; and what the demo does in 天河区 (devstack/demo.py district_workload): a key-field change awaiting
# its decision, a health certificate expiring, a referral's inspection awaiting review, another's
# reported rectification awaiting its follow-up with a credit repair applied for, a complaint not yet
# triaged and a drafted plan whose window opens in two weeks; the institution of the confirmed
# child-abuse case suspended (暂停收托), awaiting the filing officers' decision
DEMO_QUEUES = {
    "filing_decisions_pending",
    "filing_changes_pending",
    "staffing_shortfalls",
    "staff_certificates_expiring",
    "tasks_awaiting_review",
    "follow_ups_due",
    "complaints_untriaged",
    "plans_nearing_deadline",
    "repairs_pending",
    "staff_training_below_requirement",
    "rectifications_due",
    "list_entries_new",
    "bans_new",
    "filings_suspended",
}


# the local OpenID Connect provider's demo account of 天河区's supervisor: its claims are the token's
ACCOUNTS = json.loads((Path(__file__).resolve().parents[2] / "devstack/oidc/accounts.json").read_text("utf-8"))
TIANHE_ACCOUNT = f"demo-supervisor-{WORKLOAD_DISTRICT}"


def district_supervisor(code: str) -> dict[str, str]:
    return token("supervisor", subject=f"test-supervisor-{code}", districts=[code])


async def pages(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        response = await client.get(path, headers=headers, params={**params, "page": page, "page_size": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if len(items) >= body["total"] or not body["items"]:
            return items
        page += 1


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


class Expected:
    """Per queue, the items the existing APIs show, by district (None: the item spans districts)."""

    def __init__(self) -> None:
        self.by_queue: dict[str, list[frozenset[str] | None]] = {}

    def add(self, queue: str, *district_codes: str) -> None:
        self.by_queue.setdefault(queue, []).append(frozenset(district_codes) if district_codes else None)

    def count(self, queue: str, district: str | None) -> int:
        items = self.by_queue.get(queue, [])
        if district is None:
            return len(items)
        return sum(1 for d in items if d is None or district in d)


async def expected_from_the_apis(p: Platform, today: date) -> Expected:
    filing, inspection, credit = p.clients["filing"], p.clients["inspection"], p.clients["credit"]
    expected = Expected()
    horizon = today + timedelta(days=30)

    # filing: the institutions list (status, decision_due), then each filed institution's own reads
    institutions = await pages(filing, "/v1/institutions", CITY_SUPERVISOR)
    for i in institutions:
        if i["status"] == "submitted":
            late = i["decision_due"] is not None and date.fromisoformat(i["decision_due"]) < today
            expected.add("filing_decisions_overdue" if late else "filing_decisions_pending", i["district_code"])
        elif i["status"] == "suspended":  # after a confirmed child-abuse case, until a decision ends it
            expected.add("filings_suspended", i["district_code"])
    for i in (i for i in institutions if i["status"] == "filed"):
        one = await get(filing, f"/v1/institutions/{i['id']}", CITY_SUPERVISOR)
        if one["pending_change"] is not None:
            expected.add("filing_changes_pending", i["district_code"])
        staffing = await get(filing, f"/v1/institutions/{i['id']}/staffing", CITY_SUPERVISOR)
        if not staffing["compliant"]:
            expected.add("staffing_shortfalls", i["district_code"])
        roster = await get(filing, f"/v1/institutions/{i['id']}/staff", CITY_SUPERVISOR)
        for person in (s for s in roster["items"] if s["active"]):
            expiries = [date.fromisoformat(person["health_certificate_expires_on"])] + [
                date.fromisoformat(c["expires_on"]) for c in person["certificates"] if c["expires_on"]
            ]
            if min(expiries) <= horizon:
                expected.add("staff_certificates_expiring", i["district_code"])
            if person["training_hours"] < TRAINING_REQUIRED.get(person["role"], 0):
                expected.add("staff_training_below_requirement", i["district_code"])
    for year in range(2020, today.year + 1):
        completion = await get(filing, "/v1/annual-reports/completion", CITY_SUPERVISOR, year=year)
        for d in completion["districts"]:
            for _ in range(d["overdue"]):
                expected.add("annual_reports_missing", d["district_code"])

    # inspection: every task through its inspectors' own lists, each with its violations
    inspectors = (await get(inspection, "/v1/inspectors", CITY_SUPERVISOR))["items"]
    tasks: dict[str, dict[str, Any]] = {}
    for person in inspectors:
        mine = await get(inspection, "/v1/me/tasks", token("inspector", subject=person["subject"]))
        tasks.update({t["id"]: t for t in mine["items"]})
    follow_up_reasons = [
        (t["institution"]["institution_id"], str(t["reason"]))
        for t in tasks.values()
        if t["kind"] == "targeted" and str(t["reason"] or "").startswith("follow_up") and t["institution"]
    ]
    for t in tasks.values():
        district = t["institution"]["district_code"] if t["institution"] else t["site"]["district_code"]
        if t["status"] == "submitted":
            expected.add("tasks_awaiting_review", district)
        if t["status"] != "reviewed":
            continue
        for v in (await get(inspection, f"/v1/tasks/{t['id']}", CITY_SUPERVISOR))["violations"]:
            due = date.fromisoformat(v["rectification_due"]) if v["rectification_due"] else None
            if v["status"] == "confirmed" and due is not None:
                expected.add("rectifications_due" if due >= today else "rectifications_overdue", district)
            elif v["status"] == "escalated":
                expected.add("rectifications_escalated", district)
            elif v["status"] == "rectification_reported" and not any(
                iid == v["institution_id"] and v["title_zh"] in reason for iid, reason in follow_up_reasons
            ):
                expected.add("follow_ups_due", district)
    for complaint in await pages(inspection, "/v1/complaints", CITY_SUPERVISOR, status="received"):
        expected.add("complaints_untriaged", complaint["district_code"])
    for case in await pages(inspection, "/v1/unlicensed-cases", CITY_SUPERVISOR, status="open"):
        if case["overdue_steps"] > 0:
            expected.add("unlicensed_steps_overdue", case["district_code"])
    for plan in await get(inspection, "/v1/plans", CITY_SUPERVISOR):
        if plan["status"] != "drawn" and date.fromisoformat(plan["window_start"]) <= horizon:
            expected.add("plans_nearing_deadline", *plan["districts"])

    # credit: the lists' members entered within the last 30 days, in the institution's district; a
    # person's in the district of the institution its record names for the fact (涉事机构)
    since = today - timedelta(days=30)
    district_of = {i["id"]: i["district_code"] for i in institutions}
    for i in institutions:  # repair applications awaiting a decision, in each institution's record
        response = await credit.get(f"/v1/credit/institutions/{i['id']}", headers=CREDIT)
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            for repair in response.json()["repairs"]:
                if repair["status"] == "pending":
                    expected.add("repairs_pending", i["district_code"])
    for list_name, queue in (("serious_dishonesty", "list_entries_new"), ("industry_ban", "bans_new")):
        members = (await get(credit, f"/v1/credit/lists/{list_name}", CREDIT))["items"]
        for m in members:
            if datetime.fromisoformat(m["entered_at"]).astimezone(CHINA).date() < since:
                continue
            if m["subject_kind"] == "institution":
                expected.add(queue, district_of[m["subject_id"]])
                continue
            # the institution whose record holds an entry of the same fact (the same event)
            record = await get(credit, f"/v1/credit/persons/{m['subject_id']}", CREDIT)
            facts = {line["source_event_id"] for line in record["lines"] if line["source_event_id"]}
            places = set()
            for i in institutions:
                response = await credit.get(f"/v1/credit/institutions/{i['id']}", headers=CREDIT)
                if response.status_code == 200 and facts & {
                    line["source_event_id"] for line in response.json()["lines"]
                }:
                    places.add(i["id"])
            [place] = places
            expected.add(queue, district_of[place])
    return expected


async def morning_list(p: Platform, headers: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for service in WORK_SERVICES:
        summary = await get(p.clients[service], "/v1/work/summary", headers)
        assert summary["service"] == service
        for q in summary["queues"]:
            assert q["queue"] not in counts
            counts[q["queue"]] = q["count"]
    return counts


async def test_the_morning_list_on_the_demo_city_equals_the_apis(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    urls = {s: fresh_db(s) for s in SERVICES}
    async with Platform(kafka.bootstrap, namespace, urls) as p:
        p.apps["inspection"].state.settings.draw_min_observers = 2
        settings = ServiceSettings(environment="test")
        await Generator(Api(p.clients, settings), seed=SEED, scale=SCALE, out=None, propagation_timeout=60).run()
        today = china_today()
        expected = await expected_from_the_apis(p, today)

        city = await morning_list(p, CITY_SUPERVISOR)
        assert {q for q, n in city.items() if n} >= DEMO_QUEUES, city
        for queue, count in city.items():
            assert count == expected.count(queue, None), (queue, count)

        per_district = {code: await morning_list(p, district_supervisor(code)) for code in districts()}
        for code, counts in per_district.items():
            assert counts.keys() == city.keys()
            for queue, count in counts.items():
                assert count == expected.count(queue, code), (code, queue, count)
        # a district's list is its own: the districts' counts add up to the city's (but for plans,
        # which may span districts)
        for queue in city.keys() - {"plans_nearing_deadline"}:
            assert sum(counts[queue] for counts in per_district.values()) == city[queue], queue

        # the acceptance: the district supervisor with the most work has every queue the demo makes there
        busiest = max(per_district, key=lambda code: sum(per_district[code].values()))
        made_there = {q for q in DEMO_QUEUES if expected.count(q, busiest) > 0}
        assert {q for q, n in per_district[busiest].items() if n} >= made_there
        print(  # noqa: T201 - the figures the report quotes
            "city",
            dict(sorted(city.items())),
            "busiest",
            busiest,
            dict(sorted(per_district[busiest].items())),
            {code: sorted(q for q, n in counts.items() if n) for code, counts in per_district.items()},
        )
        assert Counter(city) == Counter({q: expected.count(q, None) for q in city})

        # 天河区's supervisor, with the claims of the provider's demo account (the sign-in itself is
        # tests/security/test_oidc.py's): every queue the demo produces in the city is in that morning
        # list too, each count what the APIs give for 天河区
        account = ACCOUNTS["accounts"][TIANHE_ACCOUNT]
        assert account["districts"] == [WORKLOAD_DISTRICT]
        tianhe = await morning_list(p, token(*account["roles"], subject=TIANHE_ACCOUNT, districts=account["districts"]))
        assert tianhe == per_district[WORKLOAD_DISTRICT]
        produced = {q for q, n in city.items() if n}
        assert produced >= DEMO_QUEUES, sorted(DEMO_QUEUES - produced)
        missing = sorted(q for q in produced if tianhe[q] == 0)
        assert not missing, f"queues the demo produces but not in 天河区: {missing}"
        for queue, count in tianhe.items():
            assert count == expected.count(queue, WORKLOAD_DISTRICT), (queue, count)
        print("天河区", dict(sorted(tianhe.items())))  # noqa: T201 - the figures the report quotes
