"""The demo-city generator against the four services in this process (real broker, real PostgreSQL),
at a small scale, run twice: the second run creates nothing, and the summary agrees with the APIs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from devstack.demo import Api, Generator, Summary, plan_city
from devstack.kafka import LocalKafka
from devstack.postgres import SERVICES
from shared.identifiers import validate_resident_id, validate_uscc
from shared.reference import districts
from shared.settings import ServiceSettings
from tests.support import Platform, token

SCALE = 40
SEED = 7
SUPERVISOR = token("supervisor", "ops", subject="test-supervisor")
OFFICER = token("filing_officer", subject="test-officer", districts=list(districts()))
CREDIT = token("credit_officer", subject="test-credit")


def test_the_plan_is_deterministic_valid_and_spread_over_the_city() -> None:
    first, again = plan_city(SEED, 600), plan_city(SEED, 600)
    assert [p.body for p in first] == [p.body for p in again]
    assert [s.body for p in first for s in p.staff] == [s.body for p in again for s in p.staff]
    assert plan_city(SEED + 1, 600)[0].body != first[0].body
    for plan in first:
        assert validate_uscc(plan.uscc) == plan.uscc
        assert plan.body["name"].startswith("演示")
        for person in plan.staff:
            assert validate_resident_id(person.id_number) == person.id_number
            assert "演示" in person.name
    assert len({p.uscc for p in first}) == len(first)
    assert len({s.id_number for p in first for s in p.staff}) == sum(len(p.staff) for p in first)
    assert {p.body["operating_model"] for p in plan_city(SEED, SCALE)} == {
        "public", "public_private", "private", "employer", "kindergarten_class", "community", "family",
    }  # fmt: skip
    # institutions per district follow the districts' slot targets
    per_district = Counter(p.district_code for p in first)
    total_target = sum(d.target_2025 for d in districts().values())
    for code, d in districts().items():
        assert abs(per_district[code] - 600 * d.target_2025 / total_target) <= 1
    filed = [p for p in first if p.files]
    share = sum(p.body["puhui_slots"] for p in filed) / sum(p.total_slots for p in filed)
    assert 0.25 <= share <= 0.38


async def _total(client: Any, path: str, headers: dict[str, str] | None = None, **params: Any) -> int:
    response = await client.get(path, headers=headers or {}, params={"page_size": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def _held_by_the_suspended(p: Platform, year: int) -> Counter[str]:
    """What the demo created for institutions suspended since (暂停收托, the child-abuse case): their
    staff on the roster and their annual reports, no longer counted with the filed ones."""
    filing = p.clients["filing"]
    held: Counter[str] = Counter()
    listing = (
        await filing.get("/v1/institutions", headers=SUPERVISOR, params={"status": "suspended", "page_size": 100})
    ).json()
    for item in listing["items"]:
        roster = (await filing.get(f"/v1/institutions/{item['id']}/staff", headers=SUPERVISOR)).json()
        held["staff"] += roster["total"]
        report = await filing.get(f"/v1/institutions/{item['id']}/annual-reports/{year}", headers=SUPERVISOR)
        assert report.status_code in (200, 404), report.text
        held["annual_reports"] += report.status_code == 200
    return held


async def _assert_summary_matches_the_apis(p: Platform, summary: Summary) -> None:
    filing, inspection, credit = p.clients["filing"], p.clients["inspection"], p.clients["credit"]
    present = summary.present
    assert await _total(filing, "/v1/institutions", SUPERVISOR) == present["institutions"] == SCALE
    for status in ("filed", "returned", "rejected", "submitted"):
        assert present[f"institutions_{status}"] >= 1, status
        assert await _total(filing, "/v1/institutions", SUPERVISOR, status=status) == present[f"institutions_{status}"]
    assert await _total(filing, "/v1/public/institutions") == present["institutions_filed"]
    # the institution of the child-abuse case the demo's complaint leads to is suspended (暂停收托)
    suspended = await _total(filing, "/v1/institutions", SUPERVISOR, status="suspended")
    assert suspended == present["institutions_suspended"] == 1
    # rosters: every active person counted
    listing = (
        await filing.get("/v1/institutions", headers=SUPERVISOR, params={"status": "filed", "page_size": 100})
    ).json()
    staff = 0
    for item in listing["items"]:
        roster = (await filing.get(f"/v1/institutions/{item['id']}/staff", headers=SUPERVISOR)).json()
        staff += roster["total"]
        assert all("*" in s["id_masked"] for s in roster["items"])
    assert staff == present["staff"] > 0
    year = summary.details["year"]
    completion = (await filing.get("/v1/annual-reports/completion", headers=SUPERVISOR, params={"year": year})).json()
    assert completion["total"]["submitted"] == present["annual_reports"] > 0
    inspectors = (await inspection.get("/v1/inspectors", headers=SUPERVISOR)).json()
    assert inspectors["total"] == present["inspectors"]
    plans = (await inspection.get("/v1/plans", headers=SUPERVISOR)).json()
    assert sum(1 for x in plans if x["status"] == "drawn") == present["plans"] == 2
    assert await _total(inspection, "/v1/public/inspection-results") == present["results_published"] > 0
    results = (await inspection.get("/v1/public/inspection-results", params={"page_size": 100})).json()["items"]
    assert {"compliant", "non_compliant"} <= {r["conclusion"] for r in results}
    for severity in ("minor", "general", "serious", "critical"):
        assert present[f"violations_{severity}"] >= 1, severity
    assert present["child_abuse_confirmed"] == 1
    bans = (await credit.get("/v1/credit/lists/industry_ban", headers=CREDIT)).json()
    assert bans["total"] == present["banned_persons"] == 1
    assert bans["items"][0]["subject_id"] == summary.details["banned_person_ref"]
    assert present["credit_repairs"] == 1
    assert present["follow_ups"] >= 1


async def test_generator_twice_creates_once_and_agrees_with_the_apis(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    urls = {s: fresh_db(s) for s in SERVICES}
    async with Platform(kafka.bootstrap, namespace, urls) as p:
        # the draws' reveal delay is seconds in the test environment (24 h by default), as ./dev run
        # shortens it for the demo; the production minimum of observers
        p.apps["inspection"].state.settings.draw_min_observers = 2
        settings = ServiceSettings(environment="test")
        first = await Generator(
            Api(p.clients, settings), seed=SEED, scale=SCALE, out=None, propagation_timeout=60
        ).run()
        assert first.created["institutions"] == SCALE
        held = await _held_by_the_suspended(p, first.details["year"])
        assert first.created["staff"] == first.present["staff"] + held["staff"]
        assert first.created["annual_reports"] == first.present["annual_reports"] + held["annual_reports"]
        await _assert_summary_matches_the_apis(p, first)

        # the services acting on requests emitted every event through their outbox: count them
        emitted = {s: await p.scalar(s, "select count(*) from outbox") for s in ("filing", "inspection")}
        second = await Generator(
            Api(p.clients, settings), seed=SEED, scale=SCALE, out=None, propagation_timeout=60
        ).run()
        assert +second.created == Counter(), second.created
        assert {s: await p.scalar(s, "select count(*) from outbox") for s in emitted} == emitted  # no new event
        assert {k: v for k, v in second.present.items() if k != "ledger_entries"} == {
            k: v for k, v in first.present.items() if k != "ledger_entries"
        }
        await _assert_summary_matches_the_apis(p, second)
