"""Issue 16, findings 1–4: separation of duties (四眼原则) and the inspector lifecycle, against the
running services (real Kafka, real PostgreSQL), each with the exact requests of the finding.

1. A token holding inspector + supervisor registers itself, joins a targeted task, records a
   violation, signs, and reviews its own task: 403 ``reviewer_on_team``.
2. A credit repair applied for and decided by the same officer, with evidence never uploaded, while
   the violation is still open: refused (``credit_evidence_not_uploaded``, ``credit_repair_self_decision``,
   ``credit_rectification_open``); and a filing submitted and decided by the same officer (``filing_self_decision``).
3. A deactivated inspector loses every task at once (reads and writes, retries included) and their open
   tasks are flagged for reassignment.
4. A conflict declared after the assignment takes the inspector off the open task of that institution
   (an event says so) and blocks their writes.

Besides: the rules are a declared table, each with its reason, on by default and switched off per
rule by its own setting (the service then lets the same request through).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from devstack.kafka import LocalKafka
from services.credit.settings import CreditSettings
from services.filing.settings import FilingSettings
from services.inspection.reference import checklist
from services.inspection.settings import InspectionSettings
from shared import duties
from shared.db import Database
from shared.settings import ServiceSettings
from shared.topics import FILING_EVENTS, INSPECTION_EVENTS
from tests.credit.support import T0, Clock, closed, credit_service, submitted, upload_evidence, violation
from tests.filing.support import filing_body, upload_documents
from tests.inspection.support import envelope_bytes, filed, inspector_body
from tests.support import Platform, create_app, eventually, produce_raw, read_topic, running, settings_for, token

ROOT_DOCS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs"
ITEM = next(iter(checklist()))
SUPERVISOR = token("supervisor", subject="sod-supervisor")


def key(headers: dict[str, str], value: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": value}


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def chinese(response: httpx.Response) -> bool:
    message = str(response.json()["error"]["message"])
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


# --- inspection fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def inspection(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    async with Platform(kafka.bootstrap, namespace, {"inspection": fresh_db("inspection")}) as p:
        yield p


async def in_pool(p: Platform, *districts: str) -> list[str]:
    """Institutions filed (as filing events on the real topic) until the target pool has them."""
    client = p.clients["inspection"]
    await eventually(lambda: _ready(client))
    events = [filed(d) for d in districts]
    await produce_raw(
        p.bootstrap,
        p.topic(FILING_EVENTS),
        [
            (
                str(e.institution_id).encode(),
                envelope_bytes(e, source="/services/filing", subject=str(e.institution_id)),
            )
            for e in events
        ],
    )
    ids = [str(e.institution_id) for e in events]

    async def arrived() -> bool:
        r = await client.get("/v1/target-institutions", headers=SUPERVISOR)
        return set(ids) <= {i["institution_id"] for i in r.json()["items"]}

    await eventually(arrived)
    return ids


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def register(client: httpx.AsyncClient, subject: str, by: dict[str, str] = SUPERVISOR) -> str:
    r = await client.post("/v1/inspectors", json=inspector_body(subject, ["天河区"]), headers=by)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def targeted(
    client: httpx.AsyncClient, institution_id: str, team: list[str], by: dict[str, str] = SUPERVISOR
) -> str:
    r = await client.post(
        "/v1/targeted-inspections",
        json={
            "institution_id": institution_id,
            "inspector_ids": team,
            "reason": "complaint",
            "reason_detail": "群众投诉收费不公示",
            "due_by": (date.today() + timedelta(days=10)).isoformat(),
            "checklist_items": [ITEM],
        },
        headers=by,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def work_and_sign(client: httpx.AsyncClient, task_id: str, team: list[dict[str, str]]) -> None:
    lead = team[0]
    findings = await client.put(
        f"/v1/tasks/{task_id}/findings",
        json={"items": [{"item_code": ITEM, "result": "fail", "note": "未公示收费标准"}]},
        headers=key(lead, f"{task_id}-findings"),
    )
    assert findings.status_code == 200, findings.text
    recorded = await client.post(
        f"/v1/tasks/{task_id}/violations",
        json={"code": "FILING_CHANGE_NOT_UPDATED", "description": "登记事项变更后未变更备案"},
        headers=key(lead, f"{task_id}-violation"),
    )
    assert recorded.status_code == 201, recorded.text
    for n, member in enumerate(team):
        signed = await client.post(f"/v1/tasks/{task_id}/submit", headers=key(member, f"{task_id}-sign-{n}"))
        assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "submitted"


# --- finding 1 ------------------------------------------------------------------------------------------


async def test_finding_1_a_task_is_reviewed_by_someone_not_on_its_team(inspection: Platform) -> None:
    p = inspection
    client = p.clients["inspection"]
    [institution] = await in_pool(p, "440106")
    dual = token("inspector", "supervisor", subject="sod-dual-01")
    partner = token("inspector", subject="sod-partner-01")
    # the dual-role token registers itself and puts itself on a targeted task
    me = await register(client, "sod-dual-01", by=dual)
    other = await register(client, "sod-partner-01", by=dual)
    task_id = await targeted(client, institution, [me, other], by=dual)
    await work_and_sign(client, task_id, [dual, partner])

    own = await client.post(f"/v1/tasks/{task_id}/review", json={}, headers=dual)
    assert own.status_code == 403, own.text
    assert error_code(own) == "reviewer_on_team"
    assert chinese(own)
    detail = (await client.get(f"/v1/tasks/{task_id}", headers=SUPERVISOR)).json()
    assert detail["status"] == "submitted", "nothing was confirmed or published"
    assert [v["status"] for v in detail["violations"]] == ["recorded"]

    # someone who was never on the team reviews it
    reviewed = await client.post(f"/v1/tasks/{task_id}/review", json={}, headers=SUPERVISOR)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "reviewed"


# --- finding 2 ------------------------------------------------------------------------------------------


async def test_finding_2_a_repair_is_decided_by_another_officer_on_uploaded_evidence_after_rectification(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    applicant = token("credit_officer", subject="sod-credit-applicant")
    decider = token("credit_officer", subject="sod-credit-decider")
    clock = Clock()
    x, violation_id = uuid.uuid4(), uuid.uuid4()
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as credit:
        await credit.send(
            submitted(x, T0 - timedelta(days=30)),
            violation(x, "minor", T0 - timedelta(days=2), violation_id=violation_id),
        )
        record = (await credit.client.get(f"/v1/credit/institutions/{x}", headers=applicant)).json()
        entry_id = next(line["entry_id"] for line in record["lines"] if line["rule_id"] == "violation.minor")
        body = {"entry_id": entry_id, "commitment": "本机构承诺依法诚信经营"}

        # evidence that was never uploaded anywhere
        invented = await credit.client.post(
            "/v1/credit/repairs", json={**body, "evidence_sha256": ["a" * 64]}, headers=applicant
        )
        assert invented.status_code == 409, invented.text
        assert error_code(invented) == "credit_evidence_not_uploaded"
        assert invented.json()["error"]["field"] == "evidence_sha256.0"
        assert chinese(invented)
        # a document uploaded for another entry is not evidence for this one
        report = await upload_evidence(credit.client, entry_id, applicant, "整改报告")
        other_entry = str(uuid.uuid4())
        elsewhere = await credit.client.post(
            f"/v1/credit/entries/{other_entry}/evidence",
            content=b"%PDF-1.4\n% other\n%%EOF\n",
            headers={**applicant, "Content-Type": "application/pdf"},
        )
        assert elsewhere.status_code == 404
        applied = await credit.client.post(
            "/v1/credit/repairs", json={**body, "evidence_sha256": [report]}, headers=applicant
        )
        assert applied.status_code == 201, applied.text
        repair = applied.json()["id"]
        downloaded = await credit.client.get(f"/v1/credit/entries/{entry_id}/evidence/{report}", headers=decider)
        assert downloaded.status_code == 200
        assert downloaded.content.startswith(b"%PDF-")

        # the applicant decides their own application, 11 ms later
        decision = f"/v1/credit/repairs/{repair}/decision"
        approve = {"decision": "approve", "reason": "已整改到位"}
        own = await credit.client.post(decision, json=approve, headers=applicant)
        assert own.status_code == 403, own.text
        assert error_code(own) == "credit_repair_self_decision"
        assert chinese(own)
        # another officer, while the violation's rectification is still open
        early = await credit.client.post(decision, json=approve, headers=decider)
        assert early.status_code == 409, early.text
        assert error_code(early) == "credit_rectification_open"
        assert chinese(early)
        assert (await credit.client.get(f"/v1/credit/repairs/{repair}", headers=decider)).json()["status"] == "pending"

        # a follow-up inspection verified the rectification: now it can be approved, by the other officer
        await credit.send(closed(x, violation_id, T0 - timedelta(hours=1)), new=0)

        async def rectified() -> bool:  # the consumer also reads the repair's own event back: wait for the line
            body = (await credit.client.get(f"/v1/credit/institutions/{x}", headers=decider)).json()
            return any(line["rule_id"] == "violation.rectified" for line in body["lines"])

        await eventually(rectified)
        decided = await credit.client.post(decision, json=approve, headers=decider)
        assert decided.status_code == 200, decided.text
        assert (decided.json()["status"], decided.json()["applied_by"], decided.json()["decided_by"]) == (
            "approved",
            "sod-credit-applicant",
            "sod-credit-decider",
        )


async def filing_app(db: Database, **overrides: Any) -> Any:
    return create_app("filing", settings_for("filing", run_background_workers=False, **overrides), db)


async def test_finding_2_a_filing_submitted_by_an_officer_is_decided_by_another(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    submitter = token("filing_officer", subject="sod-filing-submitter", districts=["440106"])
    decider = token("filing_officer", subject="sod-filing-decider", districts=["440106"])
    db = await rollback_db("filing")
    async with running(await filing_app(db)) as client:
        documents = await upload_documents(client, submitter)
        created = await client.post("/v1/institutions", json=filing_body(documents), headers=submitter)
        assert created.status_code == 201, created.text
        decision = f"/v1/institutions/{created.json()['id']}/decision"
        own = await client.post(decision, json={"decision": "file"}, headers=submitter)
        assert own.status_code == 403, own.text
        assert error_code(own) == "filing_self_decision"
        assert chinese(own)
        filed_ = await client.post(decision, json={"decision": "file"}, headers=decider)
        assert filed_.status_code == 200, filed_.text
        assert filed_.json()["status"] == "filed"

        # a key change requested by one officer is decided by another too
        change = await client.post(
            f"/v1/institutions/{created.json()['id']}/changes", json={"address": "天河路200号3楼"}, headers=decider
        )
        assert change.status_code == 200, change.text
        assert change.json()["pending_change"] is not None
        own_change = await client.post(decision, json={"decision": "file"}, headers=decider)
        assert own_change.status_code == 403
        assert error_code(own_change) == "filing_self_decision"
        approved = await client.post(decision, json={"decision": "file"}, headers=submitter)
        assert approved.status_code == 200, approved.text
        assert approved.json()["address"] == "天河路200号3楼"


# --- the declared rules ---------------------------------------------------------------------------------

SETTINGS: dict[str, type[ServiceSettings]] = {
    "inspection": InspectionSettings,
    "credit": CreditSettings,
    "filing": FilingSettings,
}


async def test_each_duty_rule_is_declared_with_its_reason_on_by_default_and_switchable(
    fresh_db: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the declared table: every rule with its reason and legal basis, its refusal and its setting
    assert {r.id for r in duties.RULES} == {
        "inspection.reviewer_not_on_team",
        "credit.repair_decider_not_applicant",
        "credit.repair_evidence_uploaded",
        "credit.repair_after_rectification",
        "filing.decider_not_submitter",
        "filing.suspension_confirmer_not_proposer",
    }
    api_doc = (ROOT_DOCS / "api.md").read_text(encoding="utf-8")
    for rule in duties.RULES:
        assert rule.status in (403, 409)
        assert "《" in rule.reason, f"{rule.id}: the reason names its legal basis"
        settings_class = SETTINGS[rule.service]
        assert settings_class.model_fields[rule.setting].default is True, f"{rule.id} is on by default"
        assert duties.enabled(settings_for(rule.service), rule.id)
        assert not duties.enabled(settings_for(rule.service, **{rule.setting: False}), rule.id)
        env = f"{rule.service.upper()}_{rule.setting.upper()}"
        for documented in (rule.id, rule.code, env):
            assert documented in api_doc, f"docs/api.md documents {documented}"
        # the setting is read from the environment as the operator sets it
        with monkeypatch.context() as m:
            m.setenv(env, "false")
            assert not duties.enabled(settings_class(environment="test"), rule.id)

    # the same request against the running service: refused by default, let through when switched off
    officer = token("filing_officer", subject="sod-lone-officer", districts=["440106"])
    for switched_off, expected in ((False, 403), (True, 200)):
        db = Database(fresh_db("filing"), pool_size=2)  # each its own database: two services, two configurations
        try:
            overrides = {"sod_decider_not_submitter": False} if switched_off else {}
            app = await filing_app(db, **overrides)
            assert [r.id for r in duties.log_disabled(app.state.settings, "filing")] == (
                ["filing.decider_not_submitter"] if switched_off else []
            )
            async with running(app) as client:
                documents = await upload_documents(client, officer)
                created = await client.post("/v1/institutions", json=filing_body(documents), headers=officer)
                assert created.status_code == 201, created.text
                own = await client.post(
                    f"/v1/institutions/{created.json()['id']}/decision", json={"decision": "file"}, headers=officer
                )
                assert own.status_code == expected, own.text
        finally:
            await db.dispose()


# --- finding 3 ------------------------------------------------------------------------------------------


async def test_finding_3_deactivation_ends_access_to_every_task_and_flags_them(inspection: Platform) -> None:
    p = inspection
    client = p.clients["inspection"]
    [first] = await in_pool(p, "440106")
    a, b, d = (token("inspector", subject=f"sod-life-{n}") for n in "abd")
    ids = {n: await register(client, f"sod-life-{n}") for n in "abd"}
    t1 = await targeted(client, first, [ids["a"], ids["b"]])
    here = {"lat": 23.1291, "lng": 113.3240}
    before = await client.post(f"/v1/tasks/{t1}/check-in", json=here, headers=key(b, "b-checkin-1"))
    assert before.status_code == 201, before.text

    # --- deactivation: every task at once, reads and writes, retries included -----------------------
    patched = await client.patch(f"/v1/inspectors/{ids['b']}", json={"active": False}, headers=SUPERVISOR)
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False
    assert patched.json()["flagged_task_ids"] == [t1]
    refusals = [
        await client.get(f"/v1/tasks/{t1}", headers=b),
        await client.get("/v1/me/tasks", headers=b),
        await client.post(f"/v1/tasks/{t1}/check-in", json=here, headers=key(b, "b-checkin-2")),
        await client.post(f"/v1/tasks/{t1}/check-in", json=here, headers=key(b, "b-checkin-1")),  # a retry
        await client.post(
            f"/v1/tasks/{t1}/violations",
            json={"code": "FILING_CHANGE_NOT_UPDATED", "description": "登记事项变更后未变更备案"},
            headers=key(b, "b-violation"),
        ),
        await client.put(
            f"/v1/tasks/{t1}/findings",
            json={"items": [{"item_code": ITEM, "result": "pass"}]},
            headers=key(b, "b-findings"),
        ),
        await client.post(f"/v1/tasks/{t1}/submit", headers=key(b, "b-submit")),
    ]
    assert [r.status_code for r in refusals] == [403] * len(refusals), [r.text for r in refusals]
    assert {error_code(r) for r in refusals} == {"inspector_inactive"}
    assert all(chinese(r) for r in refusals)
    assert await p.scalar("inspection", "SELECT count(*) FROM task_checkin WHERE task_id = :t", t=uuid.UUID(t1)) == 1

    # the supervisor sees the task waiting for reassignment; it cannot be submitted until then
    waiting = (await client.get("/v1/tasks", params={"needs_reassignment": "true"}, headers=SUPERVISOR)).json()
    assert [t["id"] for t in waiting["items"]] == [t1]
    flagged = next(m for m in waiting["items"][0]["members"] if m["inspector_id"] == ids["b"])
    assert flagged["active"] is False
    assert (await client.get(f"/v1/tasks/{t1}", headers=SUPERVISOR)).json()["needs_reassignment"] is True
    findings = await client.put(
        f"/v1/tasks/{t1}/findings", json={"items": [{"item_code": ITEM, "result": "pass"}]}, headers=key(a, "a-f1")
    )
    assert findings.status_code == 200, findings.text
    blocked = await client.post(f"/v1/tasks/{t1}/submit", headers=key(a, "a-submit-1"))
    assert blocked.status_code == 409
    assert error_code(blocked) == "task_needs_reassignment"
    team = await client.put(f"/v1/tasks/{t1}/team", json={"inspector_ids": [ids["a"], ids["d"]]}, headers=SUPERVISOR)
    assert team.status_code == 200, team.text
    assert team.json()["needs_reassignment"] is False
    assert [m["inspector_id"] for m in team.json()["members"]] == [ids["a"], ids["d"]]
    assert [(m["inspector_id"], m["removed_reason"]) for m in team.json()["removed_members"]] == [
        (ids["b"], "reassigned")
    ]
    assert (await client.get(f"/v1/tasks/{t1}", headers=d)).status_code == 200
    for n, member in enumerate((a, d)):
        signed = await client.post(f"/v1/tasks/{t1}/submit", headers=key(member, f"t1-sign-{n}"))
        assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "submitted"


# --- finding 4 ------------------------------------------------------------------------------------------


async def test_finding_4_a_conflict_declared_after_assignment_takes_the_inspector_off_the_task(
    inspection: Platform,
) -> None:
    p = inspection
    client = p.clients["inspection"]
    first, second = await in_pool(p, "440106", "440106")
    a, c = (token("inspector", subject=f"sod-conflict-{n}") for n in "ac")
    ids = {n: await register(client, f"sod-conflict-{n}") for n in "ac"}
    t1 = await targeted(client, first, [ids["a"], ids["c"]])
    t2 = await targeted(client, second, [ids["a"], ids["c"]])
    here = {"lat": 23.1291, "lng": 113.3240}
    assert (await client.get(f"/v1/tasks/{t2}", headers=a)).status_code == 200
    conflict = await client.post(
        f"/v1/inspectors/{ids['a']}/conflicts",
        json={"institution_id": second, "reason": "配偶在该机构任职"},
        headers=SUPERVISOR,
    )
    assert conflict.status_code == 201, conflict.text
    assert conflict.json()["removed_from_task_ids"] == [t2]
    writes = [
        await client.post(
            f"/v1/tasks/{t2}/violations",
            json={"code": "FILING_CHANGE_NOT_UPDATED", "description": "登记事项变更后未变更备案"},
            headers=key(a, "a-violation-t2"),
        ),
        await client.post(f"/v1/tasks/{t2}/check-in", json=here, headers=key(a, "a-checkin-t2")),
        await client.get(f"/v1/tasks/{t2}", headers=a),
    ]
    assert [r.status_code for r in writes] == [403, 403, 403], [r.text for r in writes]
    assert {error_code(r) for r in writes} == {"removed_from_team"}
    assert all(chinese(r) for r in writes)
    assert await p.scalar("inspection", "SELECT count(*) FROM violation WHERE task_id = :t", t=uuid.UUID(t2)) == 0
    mine = (await client.get("/v1/me/tasks", headers=a)).json()
    assert t2 not in [t["id"] for t in mine["items"]]
    assert t1 in [t["id"] for t in mine["items"]], "the other institution's task is untouched"
    t2_view = (await client.get(f"/v1/tasks/{t2}", headers=SUPERVISOR)).json()
    assert t2_view["needs_reassignment"] is True
    assert [m["inspector_id"] for m in t2_view["members"]] == [ids["c"]]
    assert [(m["inspector_id"], m["removed_reason"]) for m in t2_view["removed_members"]] == [
        (ids["a"], "conflict_of_interest")
    ]
    assert (await client.get(f"/v1/tasks/{t2}", headers=c)).status_code == 200

    # the event says so, on the inspection topic
    async def removal_published() -> bool:
        records = await read_topic(p.bootstrap, p.topic(INSPECTION_EVENTS))
        return any(
            json.loads(r.value)["type"] == "cn.gov.gz.childcare.inspection.task.inspector_removed.v1"
            and json.loads(r.value)["data"]["task_id"] == t2
            and json.loads(r.value)["data"]["reason"] == "conflict_of_interest"
            and json.loads(r.value)["data"]["inspector_id"] == ids["a"]
            for r in records
        )

    await eventually(removal_published)
