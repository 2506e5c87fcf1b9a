"""Sanctions that take effect (issue 20, item 4), on the real broker: a confirmed child-abuse case puts
the filed institution into 暂停收托 in filing (services/filing/suspension) — the public directory no
longer offers it by default, its record and its entry say so with the reason and legal basis, its 普惠
places are not offered — until two filing officers of its district decide: one proposes (resume or
deregister), another confirms (the proposer cannot: shared/duties.py). Credit runs alongside, so the
serious-dishonesty listing (普惠 暂停) happens as it does on the platform. The same confirmation
delivered again, or replayed under a new event id, suspends once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from devstack.kafka import LocalKafka
from shared.events.inspection import ViolationConfirmedV1
from tests.credit.support import T0, Clock, credit_service, envelope, produce_raw_envelopes, violation
from tests.filing.support import insert_filed_institution
from tests.filing.test_staff import hire_body, new_id
from tests.support import Platform, eventually, token

LIST = "/v1/public/institutions"
OFFICER_A = token("filing_officer", subject="tianhe-officer-a", districts=["440106"])
OFFICER_B = token("filing_officer", subject="tianhe-officer-b", districts=["440106"])
YUEXIU_OFFICER = token("filing_officer", subject="yuexiu-officer", districts=["440104"])
SUPERVISOR = token("supervisor", subject="city-supervisor")
CATALOGUE_BASIS = "《人口与计划生育法》（2021修正）第41条第2款；《未成年人保护法》（2020修订，2024修正）第54条"


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _search(filing: httpx.AsyncClient, **params: Any) -> set[str]:
    body = await _json(await filing.get(LIST, params={"district": "440106", "page_size": 100, **params}))
    return {item["id"] for item in body["items"]}


async def _status(filing: httpx.AsyncClient, institution_id: uuid.UUID) -> str:
    body = await _json(await filing.get(f"/v1/institutions/{institution_id}", headers=SUPERVISOR))
    return str(body["status"])


async def _work_count(filing: httpx.AsyncClient, headers: dict[str, str]) -> int:
    summary = await _json(await filing.get("/v1/work/summary", headers=headers))
    counts = {q["queue"]: q["count"] for q in summary["queues"]}
    return int(counts["filings_suspended"])


async def _event_reason(platform: Platform, event: str) -> str:
    """The reason carried by filing's (single) event of that type, as other agencies receive it."""
    payload = await platform.scalar(
        "filing", f"SELECT payload FROM outbox WHERE event_type = 'cn.gov.gz.childcare.filing.institution.{event}.v1'"
    )
    return str(json.loads(payload)["data"]["reason"])


async def test_child_abuse_suspends_until_a_second_officer_resumes(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with (
        Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as platform,
        credit_service(kafka.bootstrap, namespace, fresh_db("credit"), Clock()) as credit,
    ):
        filing = platform.clients["filing"]
        async with platform.dbs["filing"].transaction() as session:
            abused = await insert_filed_institution(session, name="天河区小太阳托育园")
            other = await insert_filed_institution(session, name="天河区小月亮托育园")
        assert {str(abused), str(other)} <= await _search(filing)
        assert await _work_count(filing, OFFICER_A) == 0

        confirmed = violation(abused, "critical", T0 - timedelta(days=1), child_abuse=True, legal_basis=CATALOGUE_BASIS)
        # delivered twice (the same event), as a redelivery would
        await produce_raw_envelopes(kafka.bootstrap, namespace, [confirmed, confirmed])

        async def suspended() -> bool:
            return await _status(filing, abused) == "suspended"

        await eventually(suspended, within=30)

        # the public directory: not offered by default, shown marked by its link and its record
        found = await _search(filing)
        assert str(abused) not in found
        assert str(other) in found
        entry = await _json(await filing.get(f"{LIST}/{abused}"))
        suspension = entry["suspension"]
        assert suspension["status_zh"] == "暂停收托"
        assert "虐待、殴打、伤害或性侵害婴幼儿" in suspension["reason_zh"]
        assert suspension["legal_basis"] == CATALOGUE_BASIS
        assert suspension["since"].startswith((T0 - timedelta(days=1)).date().isoformat())
        assert "恢复收托或注销备案" in suspension["until_zh"]
        assert "普惠" in suspension["puhui_zh"]
        assert "现场检查发现" not in str(entry), "the violation's description stays inside"
        record = await _json(await filing.get(f"{LIST}/{abused}/record"))
        assert record["suspension"] == suspension
        assert "suspension" not in await _json(await filing.get(f"{LIST}/{other}"))
        # an explicit filter finds it; its 普惠 places are not offered
        assert str(abused) in await _search(filing, include_suspended="true")
        assert str(abused) not in await _search(filing, include_suspended="true", puhui="true")
        assert str(other) in await _search(filing, include_suspended="true", puhui="true")
        assert str(abused) in await _search(filing, include_suspended="true", puhui="false")

        # credit listed it too (serious-dishonesty list): 普惠 暂停 shows on the same record
        async def listed() -> bool:
            body = await _json(await filing.get(f"{LIST}/{abused}"))
            return "puhui_suspension" in body

        await eventually(listed, within=30)

        # replayed under a new event id (same violation): still one suspension, one event
        before = await platform.scalar("filing", "SELECT count(*) FROM inbox WHERE consumer = 'filing'")
        replay = json.loads(confirmed)
        again = envelope(ViolationConfirmedV1.model_validate(replay["data"]), key=str(abused), at=T0)
        await produce_raw_envelopes(kafka.bootstrap, namespace, [again])

        async def replayed() -> bool:
            return int(await platform.scalar("filing", "SELECT count(*) FROM inbox WHERE consumer = 'filing'")) > before

        await eventually(replayed, within=30)
        assert await platform.scalar("filing", "SELECT count(*) FROM institution_suspension") == 1
        assert (
            await platform.scalar(
                "filing",
                "SELECT count(*) FROM outbox WHERE event_type = 'cn.gov.gz.childcare.filing.institution.suspended.v1'",
            )
            == 1
        )

        # the officers' work queue: awaiting a decision, in Tianhe only
        assert await _work_count(filing, OFFICER_A) == 1
        assert await _work_count(filing, YUEXIU_OFFICER) == 0
        items = await _json(await filing.get("/v1/work/queues/filings_suspended", headers=OFFICER_A))
        assert [i["institution"]["id"] for i in items["items"]] == [str(abused)]

        path = f"/v1/institutions/{abused}/suspension"
        # no confirmation without a proposal; another district's officer may not propose
        refused = await _json(await filing.post(f"{path}/decision", json={"outcome": "resume"}, headers=OFFICER_B), 409)
        assert refused["error"]["code"] == "suspension_no_proposal"
        outside = await filing.post(
            f"{path}/proposal", json={"outcome": "resume", "reason": "整改到位"}, headers=YUEXIU_OFFICER
        )
        assert outside.status_code == 403, outside.text

        proposal = await _json(
            await filing.post(
                f"{path}/proposal",
                json={"outcome": "resume", "reason": "涉事人员已依法处理，机构整改到位，经复查符合要求"},
                headers=OFFICER_A,
            )
        )
        assert proposal["proposed_outcome"] == "resume"
        assert proposal["institution_status"] == "suspended"

        # four-eyes: the proposer cannot confirm, in Chinese, naming the field
        own = await _json(await filing.post(f"{path}/decision", json={"outcome": "resume"}, headers=OFFICER_A), 403)
        assert own["error"]["code"] == "suspension_self_decision"
        assert own["error"]["field"] == "outcome"
        assert "四眼原则" in own["error"]["message"]
        # the confirmer confirms what was proposed
        mismatch = await _json(
            await filing.post(f"{path}/decision", json={"outcome": "deregister"}, headers=OFFICER_B), 409
        )
        assert mismatch["error"]["code"] == "suspension_outcome_mismatch"
        assert await _status(filing, abused) == "suspended"

        decided = await _json(await filing.post(f"{path}/decision", json={"outcome": "resume"}, headers=OFFICER_B))
        assert decided["outcome"] == "resume"
        assert decided["decided_by"] == "tianhe-officer-b"
        assert decided["institution_status"] == "filed"
        assert await _status(filing, abused) == "filed"
        assert await _work_count(filing, OFFICER_A) == 0
        # back in the directory's default search, without the suspension mark
        assert str(abused) in await _search(filing)
        assert "suspension" not in await _json(await filing.get(f"{LIST}/{abused}"))
        resumed = await platform.scalar(
            "filing",
            "SELECT count(*) FROM outbox WHERE event_type = 'cn.gov.gz.childcare.filing.institution.resumed.v1'",
        )
        assert resumed == 1
        # the event shared with other agencies carries a fixed phrase, not the proposer's own words
        # (free text that may name persons): those stay with filing's officers
        assert await _event_reason(platform, "resumed") == "暂停收托后恢复收托，经两名备案人员决定"
        shown = await _json(await filing.get(path, headers=OFFICER_A))
        assert shown["proposal_reason"] == "涉事人员已依法处理，机构整改到位，经复查符合要求"
        # the decision stands: the same case delivered again does not suspend it anew
        before = await platform.scalar("filing", "SELECT count(*) FROM inbox WHERE consumer = 'filing'")
        await produce_raw_envelopes(
            kafka.bootstrap,
            namespace,
            [envelope(ViolationConfirmedV1.model_validate(replay["data"]), key=str(abused), at=T0)],
        )
        await eventually(replayed, within=30)
        assert await _status(filing, abused) == "filed"
        assert "puhui_suspension" in await _json(await filing.get(f"{LIST}/{abused}")), "credit's listing stays"
        assert credit.client is not None


async def test_child_abuse_suspension_ends_in_deregistration(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as platform:
        filing = platform.clients["filing"]
        async with platform.dbs["filing"].transaction() as session:
            abused = await insert_filed_institution(session, name="天河区小星星托育园")
        # a key-field change requested before the case, waiting for a second officer's decision
        requested = await _json(
            await filing.post(f"/v1/institutions/{abused}/changes", json={"address": "天河路300号"}, headers=OFFICER_A)
        )
        assert requested["pending_change"] is not None
        await produce_raw_envelopes(
            kafka.bootstrap,
            namespace,
            [violation(abused, "critical", T0, child_abuse=True, legal_basis=CATALOGUE_BASIS)],
        )

        async def suspended() -> bool:
            return await _status(filing, abused) == "suspended"

        await eventually(suspended, within=30)
        # a suspended institution is not deregistered by the one-officer path
        direct = await filing.post(
            f"/v1/institutions/{abused}/deregistration", json={"reason": "直接注销"}, headers=OFFICER_A
        )
        assert direct.status_code == 409, direct.text
        assert "暂停收托" in direct.json()["error"]["message"]

        # nobody new joins the roster of a suspended institution
        hire = await filing.post(f"/v1/institutions/{abused}/staff", json=hire_body(new_id()), headers=OFFICER_A)
        assert hire.status_code == 409, hire.text
        assert "暂停收托" in hire.json()["error"]["message"]

        # the pending change is not decided while suspended (it would alter the institution under decision)
        change = await _json(
            await filing.post(f"/v1/institutions/{abused}/decision", json={"decision": "file"}, headers=OFFICER_B), 409
        )
        assert change["error"]["code"] == "change_decision_suspended"
        assert change["error"]["field"] == "decision"
        assert "暂停收托" in change["error"]["message"]
        record = await _json(await filing.get(f"/v1/institutions/{abused}", headers=SUPERVISOR))
        assert record["address"] == "天河路1号"

        path = f"/v1/institutions/{abused}/suspension"
        await _json(
            await filing.post(
                f"{path}/proposal",
                json={"outcome": "deregister", "reason": "发生虐童事件，依法注销备案"},
                headers=OFFICER_B,
            )
        )
        decided = await _json(await filing.post(f"{path}/decision", json={"outcome": "deregister"}, headers=OFFICER_A))
        assert decided["institution_status"] == "deregistered"
        assert await _status(filing, abused) == "deregistered"
        # gone from the public directory, by link and by any filter
        assert (await filing.get(f"{LIST}/{abused}")).status_code == 404
        assert str(abused) not in await _search(filing, include_suspended="true")
        deregistered = await platform.scalar(
            "filing",
            "SELECT payload FROM outbox WHERE event_type = 'cn.gov.gz.childcare.filing.institution.deregistered.v1'",
        )
        # the event shared with other agencies carries a fixed phrase, not the proposer's own words
        assert "发生虐童事件，依法注销备案" not in deregistered
        assert await _event_reason(platform, "deregistered") == "暂停收托后注销备案，经两名备案人员决定"
        # decided: nothing more to decide
        late = await _json(
            await filing.post(f"{path}/decision", json={"outcome": "deregister"}, headers=OFFICER_B), 409
        )
        assert late["error"]["code"] == "institution_not_suspended"
        shown = await _json(await filing.get(path, headers=SUPERVISOR))
        assert shown["outcome"] == "deregister"
        assert shown["proposed_by"] == "tianhe-officer-b"
        assert shown["decided_by"] == "tianhe-officer-a"


async def test_every_child_abuse_case_is_recorded_against_the_open_suspension(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """Two violations confirmed in one review (inspection emits one event per violation): one
    suspension, both cases shown to the officers; either delivered again changes nothing. A case
    processed only after the officers resumed the institution suspends it anew from the decision on,
    never backdated into the decided period."""
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing")}) as platform:
        filing = platform.clients["filing"]
        async with platform.dbs["filing"].transaction() as session:
            abused = await insert_filed_institution(session, name="天河区小海豚托育园")
        first_id, second_id, late_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        confirmed_at = T0 - timedelta(days=1)
        persons = ("a" * 64, "b" * 64)  # the staff members' references (hashes), never shown
        first = violation(
            abused, "critical", confirmed_at, violation_id=first_id, child_abuse=True, person_ref=persons[0]
        )
        second = violation(
            abused, "critical", confirmed_at, violation_id=second_id, child_abuse=True, person_ref=persons[1]
        )
        await produce_raw_envelopes(kafka.bootstrap, namespace, [first, second])
        path = f"/v1/institutions/{abused}/suspension"

        async def two_cases() -> bool:
            response = await filing.get(path, headers=OFFICER_A)
            return response.status_code == 200 and response.json()["case_count"] == 2

        await eventually(two_cases, within=30)
        shown = await _json(await filing.get(path, headers=OFFICER_A))
        assert {case["violation_id"] for case in shown["cases"]} == {str(first_id), str(second_id)}
        assert all(case["confirmed_at"].startswith(confirmed_at.date().isoformat()) for case in shown["cases"])
        assert not any(person in json.dumps(shown) for person in persons), "ids and dates only, not the persons"
        assert "现场检查发现" not in json.dumps(shown)
        assert await platform.scalar("filing", "SELECT count(*) FROM institution_suspension") == 1
        suspended_events = (
            "SELECT count(*) FROM outbox WHERE event_type = 'cn.gov.gz.childcare.filing.institution.suspended.v1'"
        )
        assert await platform.scalar("filing", suspended_events) == 1

        # either case replayed under a new event id: nothing changes
        inbox = "SELECT count(*) FROM inbox WHERE consumer = 'filing'"
        before = int(await platform.scalar("filing", inbox))
        replays = [
            envelope(ViolationConfirmedV1.model_validate(json.loads(raw)["data"]), key=str(abused), at=T0)
            for raw in (first, second)
        ]
        await produce_raw_envelopes(kafka.bootstrap, namespace, replays)

        async def replayed() -> bool:
            return int(await platform.scalar("filing", inbox)) >= before + 2

        await eventually(replayed, within=30)
        again = await _json(await filing.get(path, headers=OFFICER_A))
        assert again["case_count"] == 2
        assert again["cases"] == shown["cases"]
        assert await platform.scalar("filing", "SELECT count(*) FROM institution_suspension") == 1
        assert await platform.scalar("filing", suspended_events) == 1

        # resumed by two officers; then a case confirmed before the decision arrives late
        await _json(
            await filing.post(
                f"{path}/proposal", json={"outcome": "resume", "reason": "整改到位，经复查符合要求"}, headers=OFFICER_A
            )
        )
        decided = await _json(await filing.post(f"{path}/decision", json={"outcome": "resume"}, headers=OFFICER_B))
        assert decided["institution_status"] == "filed"
        late = violation(abused, "critical", confirmed_at, violation_id=late_id, child_abuse=True)
        await produce_raw_envelopes(kafka.bootstrap, namespace, [late])

        async def suspended_again() -> bool:
            return await _status(filing, abused) == "suspended"

        await eventually(suspended_again, within=30)
        anew = await _json(await filing.get(path, headers=OFFICER_A))
        assert anew["id"] != shown["id"]
        assert [case["violation_id"] for case in anew["cases"]] == [str(late_id)]
        assert datetime.fromisoformat(anew["suspended_at"]) >= datetime.fromisoformat(decided["decided_at"]), (
            "the new period begins no earlier than the decision that ended the last one"
        )
        entry = await _json(await filing.get(f"{LIST}/{abused}"))
        assert not entry["suspension"]["since"].startswith(confirmed_at.date().isoformat())
