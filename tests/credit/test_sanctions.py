"""Sanctions that take effect (issue 20, item 4), on the real broker: a confirmed child-abuse case puts
the institution on the serious-dishonesty list (严重失信主体名单), and the filing service's public
directory then shows its 普惠 status suspended, with the list's reason and legal basis from the
credit policy, and stops offering it in a 普惠 search (the case also suspends the institution in
filing, 暂停收托, until two filing officers decide: tests/credit/test_suspension.py); when the listing
ends the directory offers its 普惠 places again (a suspended institution once filing resumed it):
when it expires (found by the scheduled re-evaluation), or when a credit repair of its cause is
approved by a second credit officer (四眼原则). The shipped policy never repairs child abuse (the
application is refused and 普惠 stays suspended); the repair path is shown with a policy that also
lists a serious violation, which is repairable after its minimum publication period."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from devstack.kafka import LocalKafka
from services.credit.jobs import reevaluate_all
from services.credit.policy.documents import POLICY_DIR
from tests.credit.support import T0, Clock, closed, credit_service, upload_evidence, violation
from tests.filing.support import insert_filed_institution
from tests.support import Platform, eventually, token

LIST = "/v1/public/institutions"
FILING_PROPOSER = token("filing_officer", subject="filing-officer-propose", districts=["440106"])
FILING_CONFIRMER = token("filing_officer", subject="filing-officer-confirm", districts=["440106"])
# 四眼原则 (shared/duties.py credit.repair_decider_not_applicant): one officer applies, another decides
APPLICANT = token("credit_officer", subject="credit-officer-apply")
DECIDER = token("credit_officer", subject="credit-officer-decide")


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
        # the case also suspended the institution in filing (暂停收托: tests/credit/test_suspension.py),
        # which the directory lists only on request
        not_puhui = await filing.get(LIST, params={"puhui": "false", "district": "440106", "include_suspended": "true"})
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
        # 暂停收托 is filing's own decision, not the listing's: still not offered until two filing
        # officers resume it, then its 普惠 places are offered again
        assert str(abused) not in await puhui_search()
        path = f"/v1/institutions/{abused}/suspension"
        proposal = {"outcome": "resume", "reason": "涉事人员已依法处理，经复查符合要求"}
        proposed = await filing.post(f"{path}/proposal", json=proposal, headers=FILING_PROPOSER)
        assert proposed.status_code == 200, proposed.text
        resumed = await filing.post(f"{path}/decision", json={"outcome": "resume"}, headers=FILING_CONFIRMER)
        assert resumed.status_code == 200, resumed.text
        assert str(abused) in await puhui_search()


def policy_listing_serious_violations(directory: Path) -> str:
    """The shipped v1 as a new version v3 whose serious violations also put the institution on the
    serious-dishonesty list (repairable after 365 days, as v1 says): the shipped policy lists only
    child abuse, which is never repairable, so no shipped listing can end by repair."""
    document = yaml.safe_load((POLICY_DIR / "v1.yaml").read_text(encoding="utf-8"))
    document["version"] = "v3"
    document["title_zh"] = "测试规则：严重违法违规行为列入严重失信主体名单"
    document["rules"]["violation.serious"]["lists"] = ["serious_dishonesty"]
    (directory / "v3.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return str(directory)


async def test_an_approved_repair_ends_the_listing_and_restores_puhui_a_child_abuse_case_is_never_repaired(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], tmp_path: Path
) -> None:
    clock = Clock()
    policies = policy_listing_serious_violations(tmp_path)
    async with (
        Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as platform,
        credit_service(
            kafka.bootstrap, namespace, fresh_db("credit"), clock, policy_dir=policies, default_policy_version="v3"
        ) as credit,
    ):
        filing = platform.clients["filing"]
        async with platform.dbs["filing"].transaction() as session:
            repaired = await insert_filed_institution(session, name="天河区小星星托育园")
            abused = await insert_filed_institution(session, name="天河区小太阳托育园")

        async def suspension(institution_id: uuid.UUID) -> dict[str, Any] | None:
            # the entry and the record are two reads: filing's consumer may apply the event between
            # them, so they are read again until they agree (they must, within the wait)
            for _ in range(50):
                response = await filing.get(f"{LIST}/{institution_id}")
                assert response.status_code == 200, response.text
                shown: dict[str, Any] | None = response.json().get("puhui_suspension")
                record = (await filing.get(f"{LIST}/{institution_id}/record")).json()
                if record.get("puhui_suspension") == shown:
                    break
                await asyncio.sleep(0.1)
            assert record.get("puhui_suspension") == shown, "the institution's page shows the same"
            return shown

        async def puhui_search() -> set[str]:
            response = await filing.get(LIST, params={"puhui": "true", "district": "440106", "page_size": 100})
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        async def lists(institution_id: uuid.UUID) -> list[Any]:
            response = await credit.client.get(f"/v1/public/credit/institutions/{institution_id}")
            assert response.status_code == 200, response.text
            found: list[Any] = response.json()["lists"]
            return found

        serious_id = uuid.uuid4()
        await credit.send(
            violation(repaired, "serious", T0 - timedelta(days=1), violation_id=serious_id),
            violation(abused, "critical", T0 - timedelta(days=1), child_abuse=True),
        )

        async def both_suspended() -> bool:
            return await suspension(repaired) is not None and await suspension(abused) is not None

        await eventually(both_suspended, within=30)
        assert {str(repaired), str(abused)}.isdisjoint(await puhui_search())
        assert await lists(repaired) != []

        entries = await credit.client.get(f"/v1/credit/institutions/{repaired}", headers=APPLICANT)
        [serious_entry] = [
            line["entry_id"] for line in entries.json()["lines"] if line["rule_id"] == "violation.serious"
        ]
        abuse_record = await credit.client.get(f"/v1/credit/institutions/{abused}", headers=APPLICANT)
        [abuse_entry] = [
            line["entry_id"] for line in abuse_record.json()["lines"] if line["rule_id"] == "violation.child_abuse"
        ]

        # a year on (the serious violation's minimum publication period), rectified and verified
        clock.advance(days=366)
        await credit.send(closed(repaired, serious_id, clock.at - timedelta(days=1)), new=0)

        async def rectified() -> bool:
            record = (await credit.client.get(f"/v1/credit/institutions/{repaired}", headers=APPLICANT)).json()
            return any(line["rule_id"] == "violation.rectified" for line in record["lines"])

        await eventually(rectified, within=30)

        # child abuse: the policy refuses the application itself, and 普惠 stays suspended
        refused = await apply(credit.client, abuse_entry)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "credit_entry_not_repairable"
        assert "不予信用修复" in refused.json()["error"]["message"]

        # the serious violation: one officer applies, the same officer may not decide, a second approves
        applied = await apply(credit.client, serious_entry)
        assert applied.status_code == 201, applied.text
        repair = applied.json()["id"]
        decision = {"decision": "approve", "reason": "已整改到位并作出信用承诺"}
        own = await credit.client.post(f"/v1/credit/repairs/{repair}/decision", json=decision, headers=APPLICANT)
        assert own.status_code == 403
        assert own.json()["error"]["code"] == "credit_repair_self_decision"
        assert await suspension(repaired) is not None, "an application alone changes nothing"
        approved = await credit.client.post(f"/v1/credit/repairs/{repair}/decision", json=decision, headers=DECIDER)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert await lists(repaired) == []

        async def restored() -> bool:
            return await suspension(repaired) is None

        await eventually(restored, within=30)
        found = await puhui_search()
        assert str(repaired) in found
        # the child-abuse listing is untouched: still listed, still 普惠 暂停, still not offered
        assert str(abused) not in found
        shown = await suspension(abused)
        assert shown is not None
        assert shown["status_zh"] == "普惠 暂停"
        assert await lists(abused) != []


async def apply(client: httpx.AsyncClient, entry_id: str) -> httpx.Response:
    """The credit repair application of an entry (信用修复申请) with uploaded evidence, by APPLICANT."""
    evidence = [await upload_evidence(client, entry_id, APPLICANT, "整改报告及信用承诺书")]
    return await client.post(
        "/v1/credit/repairs",
        json={"entry_id": entry_id, "evidence_sha256": evidence, "commitment": "本机构承诺依法诚信经营"},
        headers=APPLICANT,
    )
