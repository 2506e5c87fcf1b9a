"""Pools, plans and the verifiable draw through the HTTP API against real PostgreSQL (each test
rolled back); the pool is fed through the same projection functions the Kafka consumer runs."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.inspection import draw as drawing
from services.inspection.pool import service as pool_service
from shared.db import Database
from shared.events import decode
from shared.outbox import outbox_table
from tests.inspection.support import SUPERVISOR, filed, graded, inspector_body, verify
from tests.support import create_app, running, settings_for, token


class Api:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
        self.app = app
        self.client = client
        self.db = db

    async def feed(self, *events: Any) -> None:
        async with self.db.transaction() as session:
            for e in events:
                if e.__class__.__name__ == "InstitutionFiledV1":
                    await pool_service.apply_filed(session, e)
                else:
                    await pool_service.apply_graded(session, e, event_id=str(uuid.uuid4()))

    async def inspector(self, subject: str, districts: list[str]) -> str:
        r = await self.client.post("/v1/inspectors", json=inspector_body(subject, districts), headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def plan(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "name": "天河区托育机构双随机抽查",
            "districts": ["天河区"],
            "window_start": "2026-03-01",
            "window_end": "2026-03-31",
            **overrides,
        }
        r = await self.client.post("/v1/plans", json=body, headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def event_types(self) -> list[str]:
        async with self.db.transaction() as session:
            rows = (await session.execute(select(outbox_table.c.payload).order_by(outbox_table.c.id))).all()
        return [decode(r.payload.encode()).envelope.type.split("inspection.")[1] for r in rows]


@pytest.fixture
async def api(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Api]:
    db = await rollback_db("inspection")
    app = create_app("inspection", settings_for("inspection", run_background_workers=False), db)
    async with running(app) as client:
        yield Api(app, client, db)


# --- inspector pool ----------------------------------------------------------------------------------


async def test_inspectors_are_registered_with_validated_districts_and_unique_badges(api: Api) -> None:
    body = inspector_body("insp-a", ["天河区", "440104"], badge="gz-0001")
    created = await api.client.post("/v1/inspectors", json=body, headers=SUPERVISOR)
    assert created.status_code == 201, created.text
    assert created.json()["districts"] == ["440104", "440106"]
    assert created.json()["badge_number"] == "GZ-0001"
    again = await api.client.post(
        "/v1/inspectors", json={**inspector_body("insp-b", ["天河区"]), "badge_number": "GZ-0001"}, headers=SUPERVISOR
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "badge_number_taken"
    bad = await api.client.post("/v1/inspectors", json=inspector_body("insp-c", ["深圳市南山区"]), headers=SUPERVISOR)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unknown_district"
    assert bad.json()["error"]["field"] == "districts.0"
    forbidden = await api.client.post(
        "/v1/inspectors", json=inspector_body("x", ["天河区"]), headers=token("inspector")
    )
    assert forbidden.status_code == 403
    listed = await api.client.get("/v1/inspectors?district=天河区", headers=SUPERVISOR)
    assert [i["subject"] for i in listed.json()["items"]] == ["insp-a"]


async def test_conflicts_need_a_known_institution_and_are_declared_once(api: Api) -> None:
    event = filed()
    await api.feed(event)
    inspector = await api.inspector("insp-a", ["440106"])
    body = {"institution_id": str(event.institution_id), "reason": "配偶在该机构任职"}
    first = await api.client.post(f"/v1/inspectors/{inspector}/conflicts", json=body, headers=SUPERVISOR)
    assert first.status_code == 201, first.text
    twice = await api.client.post(f"/v1/inspectors/{inspector}/conflicts", json=body, headers=SUPERVISOR)
    assert twice.status_code == 409
    unknown = await api.client.post(
        f"/v1/inspectors/{inspector}/conflicts", json={**body, "institution_id": str(uuid.uuid4())}, headers=SUPERVISOR
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "institution_id"


# --- plans ---------------------------------------------------------------------------------------------

BAD_PLANS: list[tuple[dict[str, Any], str, str]] = [
    ({"window_start": "2026-04-01", "window_end": "2026-03-01"}, "window_end", "window_reversed"),
    ({"team_size": 1}, "team_size", "greater_than_equal"),
    ({"districts": []}, "districts", "too_short"),
    ({"districts": ["火星区"]}, "districts.0", "unknown_district"),
    ({"sampling_ratios": {"A": 1.5}}, "sampling_ratios.A", "less_than_equal"),
    ({"sampling_ratios": {"E": 0.5}}, "sampling_ratios.E.[key]", "literal_error"),
    ({"checklist_items": ["CHK-NOPE-01"]}, "checklist_items", "unknown_checklist_item"),
    ({"operating_models": ["franchise"]}, "operating_models.0", "literal_error"),
    ({"name": "x"}, "name", "string_too_short"),
]


@pytest.mark.parametrize(("overrides", "field", "code"), BAD_PLANS)
async def test_bad_plans_are_422_naming_the_field(api: Api, overrides: dict[str, Any], field: str, code: str) -> None:
    body = {"name": "抽查计划", "districts": ["天河区"], "window_start": "2026-03-01", "window_end": "2026-03-31"}
    r = await api.client.post("/v1/plans", json={**body, **overrides}, headers=SUPERVISOR)
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["field"], r.json()["error"]["code"]) == (field, code)


async def test_plan_defaults_come_from_settings_and_the_checklist(api: Api) -> None:
    plan = await api.plan()
    assert plan["sampling_ratios"] == {"A": "0.05", "B": "0.1", "C": "0.3", "D": "1", "ungraded": "0.2"}
    assert plan["team_size"] == 2
    assert plan["publication_working_days"] == 20
    assert len(plan["checklist_items"]) == 70
    assert plan["status"] == "draft"


async def test_commit_draw_and_the_standalone_verifier(api: Api) -> None:
    events = [filed() for _ in range(6)] + [filed("440104")]
    await api.feed(*events)
    now = datetime.now(UTC)
    await api.feed(graded(events[0].institution_id, "D", now), graded(events[1].institution_id, "A", now))
    inspectors = [await api.inspector(f"insp-{n}", ["440106"]) for n in range(4)]
    conflicted = events[0].institution_id
    r = await api.client.post(
        f"/v1/inspectors/{inspectors[0]}/conflicts",
        json={"institution_id": str(conflicted), "reason": "近亲属任职"},
        headers=SUPERVISOR,
    )
    assert r.status_code == 201
    plan = await api.plan(sampling_ratios={"ungraded": 0.5})
    url = f"/v1/plans/{plan['id']}"

    early = await api.client.post(f"{url}/draw", json={}, headers=SUPERVISOR)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "plan_not_committed"
    assert (await api.client.get(f"{url}/draw", headers=SUPERVISOR)).status_code == 409

    # two independent observers commit before the commit closes (docs/draw.md §1.1)
    opened: dict[str, tuple[str, str]] = {}
    for organisation in ("天河区纪委监委派驻纪检监察组", "广州市南方公证处"):
        value, salt = f"{organisation} 718", "5a" * 32
        r = await api.client.post(
            f"{url}/observers",
            json={"organisation": organisation, "commitment": drawing.observer_commitment(value, salt)},
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        opened[r.json()["id"]] = (value, salt)

    committed = await api.client.post(f"{url}/commit", headers=SUPERVISOR)
    assert committed.status_code == 200, committed.text
    assert (await api.client.post(f"{url}/commit", headers=SUPERVISOR)).status_code == 409
    before = (await api.client.get(f"{url}/draw", headers=SUPERVISOR)).json()
    assert before["server_seed"] is None, "the server seed stays secret until the draw"
    assert before["commitment"] == committed.json()["commitment"]
    frozen = {e["id"]: e for e in before["institutions"]}
    assert len(frozen) == 6, "only the plan's districts"
    assert frozen[str(conflicted)]["grade"] == "D"
    assert frozen[str(conflicted)]["conflicts"] == [inspectors[0]]
    assert frozen[str(events[2].institution_id)]["grade"] == "ungraded"

    for blank in ("", "   "):
        empty = await api.client.post(f"{url}/draw", json={"witness_value": blank}, headers=SUPERVISOR)
        assert empty.status_code == 422
        assert (empty.json()["error"]["field"], empty.json()["error"]["code"]) == ("witness_value", "witness_empty")

    reveal_at = datetime.fromisoformat(before["witness"]["reveal_not_before"])
    api.app.state.clock = lambda: reveal_at
    for observer_id, (value, salt) in opened.items():
        r = await api.client.post(
            f"{url}/observers/{observer_id}/reveal", json={"value": value, "salt": salt}, headers=SUPERVISOR
        )
        assert r.status_code == 200, r.text
    drawn = await api.client.post(f"{url}/draw", json={}, headers=SUPERVISOR)
    assert drawn.status_code == 200, drawn.text
    again = await api.client.post(f"{url}/draw", json={}, headers=SUPERVISOR)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "plan_already_drawn"

    record = (await api.client.get(f"{url}/draw", headers=SUPERVISOR)).json()
    result = record["result"]
    assert record["algorithm"] == result["algorithm"] == drawing.ALGORITHM_V3 == before["algorithm"]
    counts = {s["grade"]: (s["candidates"], s["selected"]) for s in result["strata"]}
    assert counts == {"A": (1, 1), "B": (0, 0), "C": (0, 0), "D": (1, 1), "ungraded": (4, 2)}
    assert len(record["tasks"]) == len(result["teams"]) == 4
    for team in result["teams"]:
        assert len(team["inspector_ids"]) == 2
        if team["institution_id"] == str(conflicted):
            assert inspectors[0] not in team["inspector_ids"]
    assert (
        await api.event_types() == ["plan.created.v1", "plan.committed.v2", "plan.drawn.v2"] + ["task.assigned.v1"] * 4
    )

    ok = verify(record)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tampered_grade = json.loads(json.dumps(record))
    tampered_grade["institutions"][0]["grade"] = "B" if tampered_grade["institutions"][0]["grade"] != "B" else "C"
    bad = verify(tampered_grade)
    assert (bad.returncode, bad.stdout.strip()) == (1, "MISMATCH: institutions_hash")
    tampered_team = json.loads(json.dumps(record))
    tampered_team["result"]["teams"][0]["inspector_ids"].reverse()
    bad = verify(tampered_team)
    assert (bad.returncode, bad.stdout.strip()) == (1, "MISMATCH: result.teams[0].inspector_ids[0]")
    tampered_seed = {**record, "draw_seed": "00" * 32}
    assert verify(tampered_seed).stdout.strip() == "MISMATCH: draw_seed"
    # the verifier recomputes with the algorithm the record names: claiming v2 for a v3 draw fails
    relabelled = verify({**record, "algorithm": drawing.ALGORITHM_V2, "witness_value": ""})
    assert (relabelled.returncode, relabelled.stdout.strip()) == (1, "MISMATCH: draw_seed")
    unknown = verify({**record, "algorithm": "gz-childcare-draw/v9"})
    assert unknown.returncode == 2
    assert "unsupported algorithm" in unknown.stderr


async def test_a_grade_change_moves_the_institution_to_another_stratum_in_the_next_plan(api: Api) -> None:
    event = filed()
    await api.feed(event)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await api.feed(graded(event.institution_id, "A", t0))

    async def stratum() -> str:
        plan = await api.plan(name=f"计划{uuid.uuid4().hex[:4]}")
        r = await api.client.post(f"/v1/plans/{plan['id']}/commit", headers=SUPERVISOR)
        assert r.status_code == 200, r.text
        record = (await api.client.get(f"/v1/plans/{plan['id']}/draw", headers=SUPERVISOR)).json()
        return str(record["institutions"][0]["grade"])

    assert await stratum() == "A"
    await api.feed(graded(event.institution_id, "D", t0 + timedelta(days=30)))
    assert await stratum() == "D"
    # a grade computed earlier but delivered late does not overwrite the newer one
    await api.feed(graded(event.institution_id, "B", t0 + timedelta(days=1)))
    assert await stratum() == "D"
