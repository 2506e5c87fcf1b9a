"""The outdoor play area (户外活动场地面积, m², optional): filed, answered, changed (a key change),
shown in the public directory and carried to the reporting service's ledger (real Kafka, real
PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from devstack.kafka import LocalKafka
from shared.db import Database
from tests.filing.support import filing_body, upload_documents
from tests.support import Platform, create_app, eventually, running, settings_for, token

OFFICER = token("filing_officer", subject="officer-tianhe-01", districts=["440106"])
DECIDER = token("filing_officer", subject="officer-tianhe-02", districts=["440106"])  # four eyes
OPS = token("ops")
FILED = "cn.gov.gz.childcare.filing.institution.filed.v1"


@pytest.fixture
async def filing(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app("filing", settings_for("filing", run_background_workers=False), await rollback_db("filing"))
    async with running(app) as client:
        yield client


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    async with Platform(kafka.bootstrap, namespace, {s: fresh_db(s) for s in ("filing", "reporting")}) as p:
        yield p


async def file_institution(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = filing_body(await upload_documents(client, OFFICER), **overrides)
    submitted = await client.post("/v1/institutions", json=body, headers=OFFICER)
    assert submitted.status_code == 201, submitted.text
    decided = await client.post(
        f"/v1/institutions/{submitted.json()['id']}/decision", json={"decision": "file"}, headers=DECIDER
    )
    assert decided.status_code == 200, decided.text
    return dict(decided.json())


async def test_the_outdoor_area_is_in_the_answer_the_public_record_and_the_ledger(platform: Platform) -> None:
    filing = platform.clients["filing"]
    filed = await file_institution(filing, outdoor_area_m2=160.5)
    assert filed["status"] == "filed"
    assert filed["outdoor_area_m2"] == 160.5
    institution_id = filed["id"]

    public = await filing.get(f"/v1/public/institutions/{institution_id}")
    assert public.status_code == 200, public.text
    assert public.json()["outdoor_area_m2"] == 160.5
    listed = (await filing.get("/v1/public/institutions", params={"district": "440106"})).json()["items"]
    assert [i["outdoor_area_m2"] for i in listed if i["id"] == institution_id] == [160.5]

    async def ledgered() -> list[dict[str, Any]]:
        page = await platform.clients["reporting"].get("/v1/ledger?after=-1&limit=1000", headers=OPS)
        assert page.status_code == 200, page.text
        return [e for e in page.json()["entries"] if e["event_type"] == FILED and e["subject"] == institution_id]

    async def filed_entry_ledgered() -> bool:
        return bool(await ledgered())

    await eventually(filed_entry_ledgered)
    (entry,) = await ledgered()
    assert entry["data"]["profile"]["outdoor_area_m2"] == 160.5


async def test_a_filing_without_it_states_none_and_a_change_of_it_awaits_a_decision(
    filing: httpx.AsyncClient,
) -> None:
    filed = await file_institution(filing)
    assert filed["outdoor_area_m2"] is None
    public = (await filing.get(f"/v1/public/institutions/{filed['id']}")).json()
    assert "outdoor_area_m2" not in public  # not stated: the entry keeps its previous shape

    changed = await filing.post(
        f"/v1/institutions/{filed['id']}/changes", json={"outdoor_area_m2": 200}, headers=OFFICER
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["applied_fields"] == []  # a premises fact: a key change
    assert changed.json()["pending_change"]["changes"] == {"outdoor_area_m2": 200}
    assert changed.json()["institution"]["outdoor_area_m2"] is None  # the filed value stays in force
    approved = await filing.post(f"/v1/institutions/{filed['id']}/decision", json={"decision": "file"}, headers=DECIDER)
    assert approved.status_code == 200, approved.text
    assert approved.json()["outdoor_area_m2"] == 200
    public = (await filing.get(f"/v1/public/institutions/{filed['id']}")).json()
    assert public["outdoor_area_m2"] == 200


@pytest.mark.parametrize("path", ["/v1/institutions", "changes"])
async def test_a_negative_outdoor_area_is_a_422_naming_the_field(filing: httpx.AsyncClient, path: str) -> None:
    if path == "changes":
        path = f"/v1/institutions/{(await file_institution(filing))['id']}/changes"
        body: dict[str, Any] = {"outdoor_area_m2": -1}
    else:
        body = filing_body(await upload_documents(filing, OFFICER), outdoor_area_m2=-1)
    response = await filing.post(path, json=body, headers=OFFICER)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "outdoor_area_m2"
    assert error["code"] == "greater_than_equal"
    assert error["message"].startswith("必须大于或等于 0")  # the shared Chinese message of the bound
