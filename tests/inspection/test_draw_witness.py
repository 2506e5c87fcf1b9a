"""Draws witnessed from outside (algorithm gz-childcare-draw/v3, docs/draw.md §1.1) and published to
all (一公开), through the HTTP API against real PostgreSQL: observers commit before the commit closes
and reveal after the reveal time; nothing is revealed or drawn earlier; a withheld reveal follows the
rule fixed in advance; the anonymous record verifies with tools/verify_draw.py and holds no personal
data. Time moves through ``app.state.clock``."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.inspection import draw as drawing
from services.inspection.pool import service as pool_service
from services.inspection.settings import InspectionSettings
from shared.db import Database
from tests.inspection.support import SUPERVISOR, filed, inspector_body, verify
from tests.support import create_app, running, settings_for

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


class Witnessed:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
        self.app, self.client, self.db = app, client, db
        self.now = T0
        app.state.clock = lambda: self.now
        self.secrets: dict[str, tuple[str, str]] = {}  # observer id -> (value, salt)

    async def city(self) -> list[dict[str, Any]]:
        events = [filed() for _ in range(5)]
        async with self.db.transaction() as session:
            for e in events:
                await pool_service.apply_filed(session, e)
        inspectors = []
        for n in range(4):
            body = inspector_body(f"insp-w{n}", ["440106"], badge=f"GZ-W{n:04d}")
            r = await self.client.post("/v1/inspectors", json=body, headers=SUPERVISOR)
            assert r.status_code == 201, r.text
            inspectors.append(body)
        return inspectors

    async def plan(self) -> str:
        body = {
            "name": "天河区托育机构双随机抽查（见证）",
            "districts": ["天河区"],
            "sampling_ratios": dict.fromkeys(drawing.STRATA, 1),
            "window_start": "2026-03-10",
            "window_end": "2026-03-31",
        }
        r = await self.client.post("/v1/plans", json=body, headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def observer(self, plan_id: str, organisation: str) -> str:
        value, salt = f"{organisation}的见证值 {secrets.randbelow(10**6):06d}", secrets.token_hex(32)
        commitment = hashlib.sha256(value.encode("utf-8") + bytes.fromhex(salt)).hexdigest()
        r = await self.client.post(
            f"/v1/plans/{plan_id}/observers",
            json={"organisation": organisation, "commitment": commitment},
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        self.secrets[r.json()["id"]] = (value, salt)
        return str(r.json()["id"])

    async def reveal(self, plan_id: str, observer_id: str, **override: str) -> httpx.Response:
        value, salt = self.secrets[observer_id]
        body = {"value": value, "salt": salt, **override}
        return await self.client.post(
            f"/v1/plans/{plan_id}/observers/{observer_id}/reveal", json=body, headers=SUPERVISOR
        )

    async def draw(self, plan_id: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/draw", json=body or {}, headers=SUPERVISOR)


@pytest.fixture
async def w(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Witnessed]:
    db = await rollback_db("inspection")
    defaults = InspectionSettings.model_fields
    assert defaults["draw_reveal_delay_seconds"].default == 86400, "24 h unless configured"
    assert defaults["draw_withheld_grace_seconds"].default == 86400
    assert defaults["draw_min_observers"].default == 2
    settings = settings_for(
        "inspection", run_background_workers=False, draw_min_observers=2, draw_reveal_delay_seconds=86400
    )
    app = create_app("inspection", settings, db)
    async with running(app) as client:
        yield Witnessed(app, client, db)


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, str(r.json()["error"]["code"])


async def test_a_witness_or_a_draw_before_the_reveal_time_is_refused(w: Witnessed) -> None:
    await w.city()
    plan_id = await w.plan()
    first = await w.observer(plan_id, "天河区纪委监委派驻纪检监察组")
    assert code(await w.client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)) == (409, "observers_required")
    second = await w.observer(plan_id, "广州市南方公证处")
    committed = await w.client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)
    assert committed.status_code == 200, committed.text
    late = await w.client.post(
        f"/v1/plans/{plan_id}/observers",
        json={"organisation": "迟到的监督单位", "commitment": "ab" * 32},
        headers=SUPERVISOR,
    )
    assert code(late) == (409, "plan_already_committed"), "no observer joins after the commit closed"

    # the default minimum delay: 24 h after the commit, to the second
    w.now = T0 + DAY - timedelta(seconds=1)
    early = await w.reveal(plan_id, first)
    assert code(early) == (409, "reveal_time_not_reached")
    assert "未到揭示时间" in early.json()["error"]["message"]
    assert code(await w.draw(plan_id)) == (409, "reveal_time_not_reached")

    w.now = T0 + DAY
    wrong = await w.reveal(plan_id, first, salt="00" * 32)
    assert code(wrong) == (422, "reveal_mismatch")
    assert (await w.reveal(plan_id, first)).json()["status"] == "revealed"
    assert code(await w.reveal(plan_id, first)) == (409, "observer_already_revealed")
    single = await w.draw(plan_id, {"witness_value": "福彩3D 718"})
    assert code(single) == (422, "witness_value_not_accepted"), "a v3 plan takes no insider-supplied witness"
    w.now = T0 + DAY + timedelta(hours=1)
    assert (await w.reveal(plan_id, second)).status_code == 200
    drawn = await w.draw(plan_id)
    assert drawn.status_code == 200, drawn.text

    record = (await w.client.get(f"/v1/public/plans/{plan_id}/draw")).json()
    assert record["algorithm"] == record["result"]["algorithm"] == drawing.ALGORITHM_V3
    assert record["witness_value"] is None
    observers = {o["id"]: o for o in record["witness"]["observers"]}
    assert observers[first]["revealed_at"] == "2026-03-02T09:00:00Z"
    assert observers[second]["value"] == w.secrets[second][0]
    assert record["witness"]["reveal_not_before"] == "2026-03-02T09:00:00Z"
    assert record["witness"]["withheld_after"] == "2026-03-03T09:00:00Z"
    ok = verify(record)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # an insider's retouching shows: another value, a reveal dated before the reveal time, a withheld claim
    order = sorted(observers)
    tampered = json.loads(json.dumps(record))
    tampered["witness"]["observers"][0]["value"] += "1"
    assert verify(tampered).stdout.strip() == "MISMATCH: witness.observers[0].commitment"
    tampered = json.loads(json.dumps(record))
    tampered["witness"]["observers"][1]["revealed_at"] = "2026-03-02T08:59:59Z"
    assert verify(tampered).stdout.strip() == "MISMATCH: witness.observers[1].revealed_at"
    tampered = json.loads(json.dumps(record))
    tampered["witness"]["observers"][0]["status"] = "withheld"
    assert verify(tampered).stdout.strip() == "MISMATCH: witness.observers[0].status"
    tampered = json.loads(json.dumps(record))
    tampered["server_seed"] = "00" * 32
    assert verify(tampered).stdout.strip() == "MISMATCH: commitment"
    assert order == [o["id"] for o in record["witness"]["observers"]]


async def test_a_withheld_reveal_blocks_the_draw_until_the_grace_period_ends_and_is_recorded(w: Witnessed) -> None:
    await w.city()
    plan_id = await w.plan()
    honest = await w.observer(plan_id, "天河区纪委监委派驻纪检监察组")
    silent = await w.observer(plan_id, "机构代表（天河区托育服务协会）")
    assert (await w.client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)).status_code == 200
    w.now = T0 + DAY + timedelta(minutes=5)
    assert (await w.reveal(plan_id, honest)).status_code == 200
    # within the grace period the draw waits for every observer
    w.now = T0 + 2 * DAY - timedelta(seconds=1)
    pending = await w.draw(plan_id)
    assert code(pending) == (409, "witness_reveals_pending")
    assert "宽限期" in pending.json()["error"]["message"]
    # after it, the draw goes ahead without the silent observer and names it
    w.now = T0 + 2 * DAY
    drawn = await w.draw(plan_id)
    assert drawn.status_code == 200, drawn.text
    record = drawn.json()
    status = {o["id"]: o["status"] for o in record["witness"]["observers"]}
    assert status == {honest: "revealed", silent: "withheld"}
    value = w.secrets[honest][0]
    digest = drawing.witness_digest([{"id": honest, "value": value}])
    assert record["witness"]["witness_digest"] == digest
    assert record["draw_seed"] == drawing.draw_seed_v3(record["server_seed"], digest)
    assert verify(record).returncode == 0
    # too late to reveal now
    assert code(await w.reveal(plan_id, silent)) == (409, "plan_already_drawn")
    public = (await w.client.get(f"/v1/public/plans/{plan_id}/draw")).json()
    assert public == record | {"tasks": public["tasks"]}


async def test_nobody_revealing_leaves_nothing_to_draw_with(w: Witnessed) -> None:
    await w.city()
    plan_id = await w.plan()
    for organisation in ("天河区纪委监委派驻纪检监察组", "广州市南方公证处"):
        await w.observer(plan_id, organisation)
    assert (await w.client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)).status_code == 200
    w.now = T0 + 3 * DAY
    assert code(await w.draw(plan_id)) == (409, "no_witness_revealed")
    record = (await w.client.get(f"/v1/plans/{plan_id}/draw", headers=SUPERVISOR)).json()
    assert {o["status"] for o in record["witness"]["observers"]} == {"committed"}, "a refused draw changes nothing"


async def test_plans_and_drawn_records_are_public_without_login_and_without_personal_data(w: Witnessed) -> None:
    inspectors = await w.city()
    plan_id = await w.plan()
    assert (await w.client.get(f"/v1/public/plans/{plan_id}")).status_code == 404, "drafts are not public"
    assert (await w.client.get("/v1/plans")).status_code == 401, "the officers' endpoints keep their login"
    observers = [await w.observer(plan_id, o) for o in ("天河区纪委监委派驻纪检监察组", "广州市南方公证处")]
    assert (await w.client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)).status_code == 200

    committed = (await w.client.get(f"/v1/public/plans/{plan_id}")).json()
    assert committed["status"] == "committed"
    assert committed["sampling_ratios"] == dict.fromkeys(drawing.STRATA, "1")
    assert (committed["window_start"], committed["window_end"]) == ("2026-03-10", "2026-03-31")
    assert len(committed["commitment"]) == 64
    assert [o["organisation"] for o in committed["witness"]["observers"]] == [
        {observers[0]: "天河区纪委监委派驻纪检监察组", observers[1]: "广州市南方公证处"}[i] for i in sorted(observers)
    ]
    assert all(o["value"] is None for o in committed["witness"]["observers"])
    assert [p["id"] for p in (await w.client.get("/v1/public/plans")).json()] == [plan_id]
    assert code(await w.client.get(f"/v1/public/plans/{plan_id}/draw")) == (409, "plan_not_drawn")

    w.now = T0 + DAY
    for o in observers:
        assert (await w.reveal(plan_id, o)).status_code == 200
    assert (await w.draw(plan_id)).status_code == 200
    anonymous = await w.client.get(f"/v1/public/plans/{plan_id}/draw")
    assert anonymous.status_code == 200
    record = anonymous.json()
    assert record["result"]["teams"], "the record is the full draw"
    ok = verify(record)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # no personal data: inspectors appear only by their platform id (a random pseudonym); no names,
    # accounts, badge numbers, nor the officers who created, committed or drew the plan
    text = anonymous.text
    for person in inspectors:
        for field in ("subject", "name", "badge_number"):
            assert person[field] not in text, (field, person[field])
    assert "supervisor-city-01" not in text
    assert "created_by" not in text
    assert "drawn_by" not in text
    listed = (await w.client.get("/v1/inspectors", headers=SUPERVISOR)).json()["items"]
    assert {i["id"] for i in record["inspectors"]} == {i["id"] for i in listed}
    assert all(set(i) == {"id", "districts"} for i in record["inspectors"])
    for identifier in (i["id"] for i in record["inspectors"]):
        assert uuid.UUID(identifier).version == 4
