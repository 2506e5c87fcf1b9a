"""Sanctions that take effect (issue 20, item 4), on the real broker: a confirmed child-abuse case puts
the institution on the serious-dishonesty list (严重失信主体名单), and the filing service's public
directory then shows its 普惠 status suspended, with the list's reason and legal basis from the
credit policy, and stops offering it in a 普惠 search; when the listing ends (here: it expires, found
by the scheduled re-evaluation) the directory offers its 普惠 places again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from devstack.kafka import LocalKafka
from services.credit.jobs import reevaluate_all
from tests.credit.support import T0, Clock, credit_service, violation
from tests.filing.support import insert_filed_institution
from tests.support import Platform, eventually

LIST = "/v1/public/institutions"


async def test_serious_dishonesty_listing_suspends_puhui_until_it_ends(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    clock = Clock()
    async with (
        Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as platform,
        credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as credit,
    ):
        filing = platform.clients["filing"]
        async with platform.dbs["filing"].transaction() as session:
            abused = await insert_filed_institution(session, name="天河区小太阳托育园")
            other = await insert_filed_institution(session, name="天河区小月亮托育园")

        async def entry(institution_id: uuid.UUID) -> dict[str, Any]:
            response = await filing.get(f"{LIST}/{institution_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def puhui_search() -> set[str]:
            response = await filing.get(LIST, params={"puhui": "true", "district": "440106", "page_size": 100})
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        assert {str(abused), str(other)} <= await puhui_search()
        assert "puhui_suspension" not in await entry(abused)

        await credit.send(violation(abused, "critical", T0 - timedelta(days=1), child_abuse=True))

        async def suspended() -> bool:
            return "puhui_suspension" in await entry(abused)

        await eventually(suspended, within=30)
        shown = await entry(abused)
        suspension = shown["puhui_suspension"]
        assert suspension["status_zh"] == "普惠 暂停"
        assert suspension["reason_zh"]
        # the list's legal basis, as the credit policy file (policies/v1.yaml) states it
        assert "国办发〔2020〕49号" in suspension["legal_basis"]
        assert "人口与计划生育法" in suspension["legal_basis"]
        assert shown["credit_grade"] == "D"
        record = (await filing.get(f"{LIST}/{abused}/record")).json()
        assert record["puhui_suspension"] == suspension, "the institution's page shows it too"
        # not offered as 普惠; the other institution is
        found = await puhui_search()
        assert str(abused) not in found
        assert str(other) in found
        assert "puhui_suspension" not in await entry(other)
        not_puhui = await filing.get(LIST, params={"puhui": "false", "district": "440106"})
        assert str(abused) in {item["id"] for item in not_puhui.json()["items"]}

        # The listing ends with the entry's period (child abuse is never repairable): 3 years on,
        # the scheduled re-evaluation finds it expired, credit announces the exit, 普惠 is restored.
        clock.advance(days=1100)
        await reevaluate_all(credit.ctx, credit.app.state.credit_env)
        lists = (await credit.client.get(f"/v1/public/credit/institutions/{abused}")).json()["lists"]
        assert lists == []

        async def restored() -> bool:
            return "puhui_suspension" not in await entry(abused)

        await eventually(restored, within=30)
        assert str(abused) in await puhui_search()
