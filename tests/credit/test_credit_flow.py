"""The credit service against the real broker and PostgreSQL: a hand-computed sequence of filing and
inspection events, duplicates, expiry and repair driven by a controllable clock, out-of-order arrival
and replay into an empty database, and a policy change.

Hand computation under policies/v1.yaml (base 100; A ≥ 90, B ≥ 75, C ≥ 60, else D):

    filing submitted (T0-30d)                  no entry: record opened, not graded yet
    clean inspection published (T0-20d)   +2   102  A   graded (None → A)
    general violation (T0-10d)            -5    97  A   no event
    serious violation (T0-5d)            -15    82  B   graded (A → B)
    annual report 2025 overdue (2026-04-01) -5  77  B   no event
    (the serious violation again: duplicate)    77  B   nothing
    general violation unrectified (T0-1d) -10   67  C   graded (B → C)

    T0+400d: clean (365 d), general (365 d), overdue (365 d) and unrectified (365 d) have expired; the
    serious one counts 1095 d: 100 - 15 = 85  B   graded (C → B)
    repair of the serious violation approved (allowed after 365 d): 100  A   graded (B → A)

The grade history is dated by the facts (services/credit/evaluation/timeline.py): the overdue report, effective
2026-04-01, is the earliest entry, so once it has arrived the history starts there (95 A), and the
expiries are dated when each period ended, not when the re-evaluation noticed.

The last test replays every record of the filing, inspection and credit topics (repairs and policy
activations are events too) into empty databases, in two topic orders, and compares every table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from devstack.kafka import LocalKafka
from services.credit.evaluation import service as evaluation_service
from services.credit.jobs import reevaluate_all
from services.credit.repair import service as repair_service
from shared.events.credit import CreditPolicyActivatedV1, CreditRepairAppliedV1, CreditRepairDecidedV1
from shared.events.filing import StaffHiredV1
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS
from tests.credit.support import (
    T0,
    Clock,
    Credit,
    clean_inspection,
    closed,
    credit_service,
    envelope,
    escalated,
    grades,
    report_overdue,
    rescores,
    submitted,
    upload_evidence,
    violation,
)
from tests.support import eventually, produce_raw, read_topic, token

OFFICER = token("credit_officer", subject="credit-officer-01")
# separation of duties: a repair is decided by another officer than the one who applied
DECIDER = token("credit_officer", subject="credit-officer-02")
READER = token("supervisor")
SHA = "a" * 64


def sequence(institution_id: uuid.UUID, general_id: uuid.UUID, serious_id: uuid.UUID | None = None) -> list[bytes]:
    return [
        submitted(institution_id, T0 - timedelta(days=30)),
        clean_inspection(institution_id, T0 - timedelta(days=20)),
        violation(institution_id, "general", T0 - timedelta(days=10), violation_id=general_id),
        violation(
            institution_id, "serious", T0 - timedelta(days=5), violation_id=serious_id, legal_basis="《消防法》第十六条"
        ),
        report_overdue(institution_id, 2025, date(2026, 3, 31)),
        escalated(institution_id, general_id, (T0 - timedelta(days=3)).date(), T0 - timedelta(days=1)),
    ]


async def record(credit: Credit, institution_id: uuid.UUID) -> dict[str, Any]:
    response = await credit.client.get(f"/v1/credit/institutions/{institution_id}", headers=READER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert sum(line["points"] for line in body["lines"]) == body["score"], "the explanation sums to the score"
    return body


async def test_hand_computed_sequence_duplicate_expiry_and_repair(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    clock = Clock()
    x, general_id, serious_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = sequence(x, general_id, serious_id)
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as credit:
        # One at a time, so the emitted grade changes follow the hand computation step by step.
        for raw in events[:5]:
            await credit.send(raw)
        opened = await record(credit, x)
        assert (opened["score"], opened["grade"]) == (77, "B")
        # The serious violation re-delivered, then the escalation (same topic and key: applied after it).
        await credit.send(events[3], events[5], new=1)
        assert await credit.processed() == 6, "the duplicate was absorbed"

        body = await record(credit, x)
        assert (body["score"], body["grade"], body["policy_version"]) == (67, "C", "v1")
        assert body["display_name"] == "天河区小树苗托育中心"
        counted = {line["rule_id"]: line for line in body["lines"] if line["rule_id"]}
        assert {r: line["points"] for r, line in counted.items()} == {
            "inspection.clean": 2,
            "violation.general": -5,
            "violation.serious": -15,
            "annual_report.overdue": -5,
            "violation.unrectified": -10,
        }
        assert counted["violation.serious"]["legal_basis"] == "《消防法》第十六条"  # the violation's own article
        assert counted["annual_report.overdue"]["counts_until"] == "2027-03-31T16:00:00Z"  # 2027-04-01 Beijing
        assert all(line["source_event_id"] for line in counted.values())
        assert [m["id"] for m in body["measures"]] == ["sampling_raised", "key_supervision"]
        assert await credit.scalar("SELECT count(*) FROM credit_entry") == 5

        emitted = await credit.emitted()
        # A score change inside a grade is announced too (InstitutionRescoredV1), so that consumers
        # showing the score hold credit's current one.
        assert [".".join(e.type.split(".")[-3:-1]) for e in emitted] == [
            "record.opened",
            "institution.graded",
            "institution.rescored",
            "institution.graded",
            "institution.rescored",
            "institution.graded",
        ]
        assert rescores(emitted) == [("A", 102.0, 97.0, "v1"), ("B", 82.0, 77.0, "v1")]
        assert grades(emitted) == [(None, "A", 102.0, "v1"), ("A", "B", 82.0, "v1"), ("B", "C", 67.0, "v1")]

        public = await credit.client.get(f"/v1/public/credit/institutions/{x}")
        assert public.status_code == 200
        assert public.json() == {
            "institution_id": str(x),
            "grade": "C",
            "graded_at": public.json()["graded_at"],
            "policy_version": "v1",
            # what grade C means for supervision, in the words of policy v1 (the institution page shows them)
            "grade_title": "信用风险较高",
            "measures": [
                {"id": "sampling_raised", "title": "提高双随机抽查比例和频次", "legal_basis": "国市监信发〔2022〕6号"},
                {"id": "key_supervision", "title": "列为重点监管对象，加强日常检查", "legal_basis": "国发〔2019〕5号"},
            ],
            "lists": [],
        }
        assert "score" not in public.json()
        assert "lines" not in public.json()

        # Repair before the minimum period (365 days for a serious violation) is refused.
        serious_entry = counted["violation.serious"]["entry_id"]
        early = await credit.client.post(
            "/v1/credit/repairs",
            json={"entry_id": serious_entry, "evidence_sha256": [SHA], "commitment": "本机构承诺依法诚信经营"},
            headers=OFFICER,
        )
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "credit_repair_too_early"
        assert (T0 - timedelta(days=5) + timedelta(days=365)).date().isoformat() in early.json()["error"]["message"]

        # Time passes with no event: the scheduled re-evaluation lets four entries expire.
        clock.advance(days=400)
        regrades = credit.ctx.metrics.counter("childcare_credit_regrades", "")
        counted = regrades._value.get()
        assert await reevaluate_all(credit.ctx, credit.app.state.credit_env) == 1
        assert regrades._value.get() == counted + 1, "a real change is counted in childcare_credit_regrades"
        assert await reevaluate_all(credit.ctx, credit.app.state.credit_env) == 0, "idempotent"
        assert grades(await credit.emitted())[3:] == [("C", "B", 85.0, "v1")]
        later = await record(credit, x)
        assert (later["score"], later["grade"]) == (85, "B")
        assert sorted(line["status"] for line in later["lines"] if line["rule_id"]) == [
            "counting",
            "expired",
            "expired",
            "expired",
            "expired",
        ]

        bad = await credit.client.post(
            "/v1/credit/repairs",
            json={"entry_id": serious_entry, "evidence_sha256": ["not-a-hash"], "commitment": "承诺"},
            headers=OFFICER,
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "sha256_invalid"
        assert "evidence_sha256" in bad.json()["error"]["field"]
        forbidden = await credit.client.post(
            "/v1/credit/repairs",
            json={"entry_id": serious_entry, "evidence_sha256": [SHA], "commitment": "承诺"},
            headers=READER,
        )
        assert forbidden.status_code == 403

        evidence = [
            await upload_evidence(credit.client, serious_entry, OFFICER, "整改报告"),
            await upload_evidence(credit.client, serious_entry, OFFICER, "信用承诺书"),
        ]
        applied = await credit.client.post(
            "/v1/credit/repairs",
            json={
                "entry_id": serious_entry,
                "evidence_sha256": evidence,
                "commitment": "本机构承诺依法诚信经营",
            },
            headers=OFFICER,
        )
        assert applied.status_code == 201, applied.text
        repair_id = applied.json()["id"]
        assert applied.json()["status"] == "pending"
        again = await credit.client.post(
            "/v1/credit/repairs",
            json={"entry_id": serious_entry, "evidence_sha256": [SHA], "commitment": "承诺"},
            headers=OFFICER,
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "credit_repair_exists"
        assert (await record(credit, x))["score"] == 85, "a pending repair changes nothing"

        clock.advance(days=2)
        # a follow-up inspection verified the rectification (0 points): the repair may now be approved
        await credit.send(closed(x, serious_id, clock.at - timedelta(days=1)), new=0)

        async def rectified() -> bool:  # the consumer also reads the repair's own event back: wait for the line
            lines = (await record(credit, x))["lines"]
            return any(line["rule_id"] == "violation.rectified" for line in lines)

        await eventually(rectified, within=30)
        decided = await credit.client.post(
            f"/v1/credit/repairs/{repair_id}/decision",
            json={"decision": "approve", "reason": "已整改到位并作出信用承诺"},
            headers=DECIDER,
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved"
        assert grades(await credit.emitted())[4:] == [("B", "A", 100.0, "v1")]
        repaired = await record(credit, x)
        assert (repaired["score"], repaired["grade"]) == (100, "A")
        line = next(line for line in repaired["lines"] if line["entry_id"] == serious_entry)
        assert line["status"] == "repaired"
        assert line["points"] == 0
        assert line["repaired_at"].startswith((T0 + timedelta(days=402)).date().isoformat())
        twice = await credit.client.post(
            f"/v1/credit/repairs/{repair_id}/decision", json={"decision": "refuse", "reason": "x"}, headers=OFFICER
        )
        assert twice.status_code == 409
        assert twice.json()["error"]["code"] == "credit_repair_already_decided"
        # The entry itself was never edited (append-only), the repair is its own row (the sixth entry
        # is the verified rectification).
        assert await credit.scalar("SELECT count(*) FROM credit_entry") == 6


# Every column of every state table except the ones that are local by nature: surrogate keys
# (credit_subject.id is a uuid4, the others identity columns), credit_subject.created_at (database
# clock), credit_entry.recorded_at and credit_standing.evaluated_at (the service clock when this
# database processed the event or last evaluated the subject).
TABLES = {
    "credit_subject": "subject_kind, subject_id, display_name, district_code, opened_at, opened_by_event_id, "
    "profile_at, deregistered_at",
    "credit_entry": "id, subject_kind, subject_id, rule_id, source_key, source_event_id, source_event_type, "
    "effective_from, legal_basis, detail_zh",
    "credit_repair": "id, entry_id, subject_kind, subject_id, status, evidence_sha256, commitment_zh, applied_by, "
    "applied_at, decided_by, decided_at, decision_reason",
    "credit_policy_activation": "version, activated_by, activated_at",
    "credit_standing": "subject_kind, subject_id, policy_version, score, grade, graded_at",
    "credit_grade_history": "subject_kind, subject_id, graded_at, policy_version, grade, previous_grade, score, reason",
    "credit_list_membership": "list_name, subject_kind, subject_id, reason, legal_basis, entered_at, until, "
    "cause_entry_ids, left_at, left_reason",
}


async def snapshot(credit: Credit) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: await credit.rows(f"SELECT {columns} FROM {table} ORDER BY {columns}")
        for table, columns in TABLES.items()
    }


async def test_out_of_order_arrival_and_replay_into_an_empty_database_give_the_same_state(
    kafka: LocalKafka, fresh_db: Callable[[str], str]
) -> None:
    clock = Clock()
    x, y, general_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    person = "c" * 64
    hired = StaffHiredV1(
        institution_id=y,
        staff_id=uuid.uuid4(),
        person_ref=person,
        id_masked="440106********0011",
        name="王小明",
        role="carer",
        hired_on=(T0 - timedelta(days=40)).date(),
    )
    events = [
        *sequence(x, general_id),
        submitted(y, T0 - timedelta(days=50), name="天河区小星星托育园"),
        envelope(hired, key=str(y), at=T0 - timedelta(days=40)),
        violation(y, "minor", T0 - timedelta(days=3), person_ref=person),
        clean_inspection(y, T0 - timedelta(days=2)),
    ]
    live_ns, replay_ns = f"t{uuid.uuid4().hex[:8]}.", f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(live_ns)
    kafka.provision(replay_ns)
    async with credit_service(kafka.bootstrap, live_ns, fresh_db("credit"), clock) as live:
        for raw in events:
            await live.send(raw)
        live_state = await snapshot(live)
        # inspection topic first, then the filing topic (each reversed): records are opened by
        # violations and inspections, and the filing events arrive last
        inspection_first = sorted(reversed(events), key=lambda raw: b'"/services/filing"' in raw)
        async with credit_service(kafka.bootstrap, replay_ns, fresh_db("credit"), clock) as replay:
            await replay.send(*inspection_first)
            replay_state = await snapshot(replay)
        assert replay_state == live_state
        assert len(live_state["credit_subject"]) == 3  # two institutions and the person
        assert len(live_state["credit_entry"]) == 8  # five for x; minor + clean for y; minor for the person
        standings = {row[1]: row[3:5] for row in live_state["credit_standing"]}
        assert standings == {str(x): (67, "C"), str(y): (100, "A"), person: (98, "A")}

        person_record = await live.client.get(f"/v1/credit/persons/{person}", headers=READER)
        assert person_record.status_code == 200
        assert person_record.json()["score"] == 98
        assert person_record.json()["banned"] is False
        assert (await live.client.get("/v1/credit/persons/not-a-ref", headers=READER)).status_code == 422
        assert (await live.client.get(f"/v1/credit/persons/{'d' * 64}", headers=READER)).status_code == 404

        # --- policy change: v2 (A ≥ 97, B ≥ 85, C ≥ 70) regrades every subject -----------------------
        before = len(await live.emitted())
        refused = await live.client.post("/v1/credit/policies/v2/activate", headers=READER)
        assert refused.status_code == 403
        unknown = await live.client.post("/v1/credit/policies/v9/activate", headers=OFFICER)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "credit_policy_not_found"
        activated = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert activated.status_code == 200, activated.text
        # x: 67 → D under v2; y: 100 stays A; the person's 98 stays A (persons emit no grade event)
        assert activated.json() == {"version": "v2", "previous_version": "v1", "grades_changed": 1}
        assert grades((await live.emitted())[before:]) == [("C", "D", 67.0, "v2")]
        again = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "credit_policy_already_active"
        y_record = await record(live, y)
        assert [(h["policy_version"], h["grade"]) for h in y_record["grade_history"]] == [("v1", "A"), ("v2", "A")]
        x_record = await record(live, x)
        assert (x_record["grade"], x_record["policy_version"]) == ("D", "v2")
        assert [(h["policy_version"], h["grade"]) for h in x_record["grade_history"]][-1] == ("v2", "D")
        listed = await live.client.get("/v1/credit/policies", headers=READER)
        assert listed.json()["active_version"] == "v2"


CREDIT_DECISIONS = {
    CreditRepairAppliedV1.event_type,
    CreditRepairDecidedV1.event_type,
    CreditPolicyActivatedV1.event_type,
}


@dataclass
class RepairStory:
    """The live story both replay tests start from (this file's and tests/credit/test_rebuild.py's):
    filing and inspection events, 400 days on, an approved institution repair and a refused person
    repair, the v2 activation and an event recorded under it, all applied and read back."""

    x: uuid.UUID
    y: uuid.UUID
    z: uuid.UUID
    carer: str
    abuser: str
    inputs: list[bytes]
    after_activation: bytes
    namespace: str

    @property
    def processed(self) -> int:
        """Events the live consumer applied: the inputs, the one after the activation, and the five
        decisions (two repairs applied and decided, the activation) read back from the credit topic."""
        return len(self.inputs) + 1 + 5


@asynccontextmanager
async def repair_scenario(
    kafka: LocalKafka, fresh_db: Callable[[str], str], clock: Clock
) -> AsyncIterator[tuple[RepairStory, Credit]]:
    x, y, z, general_id, serious_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    carer, abuser = "c" * 64, "e" * 64
    hired = StaffHiredV1(
        institution_id=y,
        staff_id=uuid.uuid4(),
        person_ref=carer,
        id_masked="440106********0011",
        name="王小明",
        role="carer",
        hired_on=(T0 - timedelta(days=40)).date(),
    )
    inputs = [
        *sequence(x, general_id, serious_id),
        closed(x, serious_id, T0 - timedelta(hours=12)),  # rectified: the repair may be approved
        submitted(y, T0 - timedelta(days=50), name="天河区小星星托育园"),
        envelope(hired, key=str(y), at=T0 - timedelta(days=40)),
        violation(y, "serious", T0 - timedelta(days=3), person_ref=carer),
        clean_inspection(y, T0 - timedelta(days=2)),
        violation(z, "critical", T0 - timedelta(days=2), child_abuse=True, person_ref=abuser),
    ]
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as live:
        for raw in inputs:
            await live.send(raw)
        clock.advance(days=400)
        await reevaluate_all(live.ctx, live.app.state.credit_env)

        async def entry_of(subject: str, rule: str, path: str = "institutions") -> str:
            body = (await live.client.get(f"/v1/credit/{path}/{subject}", headers=READER)).json()
            return str(next(line["entry_id"] for line in body["lines"] if line["rule_id"] == rule))

        async def repair(entry_id: str, decision: str, reason: str) -> None:
            evidence = await upload_evidence(live.client, entry_id, OFFICER, f"整改材料 {entry_id}")
            applied = await live.client.post(
                "/v1/credit/repairs",
                json={"entry_id": entry_id, "evidence_sha256": [evidence], "commitment": "本机构承诺依法诚信经营"},
                headers=OFFICER,
            )
            assert applied.status_code == 201, applied.text
            clock.advance(days=1)
            decided = await live.client.post(
                f"/v1/credit/repairs/{applied.json()['id']}/decision",
                json={"decision": decision, "reason": reason},
                headers=DECIDER,
            )
            assert decided.status_code == 200, decided.text

        await repair(await entry_of(str(x), "violation.serious"), "approve", "已整改到位并作出信用承诺")
        await repair(await entry_of(carer, "violation.serious", "persons"), "refuse", "整改材料不充分")
        clock.advance(days=1)
        activated = await live.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert activated.status_code == 200, activated.text
        clock.advance(hours=2)
        after_activation = violation(y, "general", clock.at - timedelta(hours=1))  # recorded under v2
        await live.send(after_activation)
        story = RepairStory(x, y, z, carer, abuser, inputs, after_activation, namespace)

        # The live consumer reads its own five decisions back from the credit topic; they change nothing.
        async def read_back() -> bool:
            return await live.processed() == story.processed

        await eventually(read_back, within=30)
        yield story, live


async def test_replay_of_every_topic_reproduces_repairs_policy_changes_and_history(
    kafka: LocalKafka, fresh_db: Callable[[str], str]
) -> None:
    """Live: filing and inspection events, time passing, an approved and a refused repair, a policy
    activation and an event after it. Then every record of the three topics is replayed into empty
    databases — once with the credit topic first (repair decisions and the activation arrive before
    the entries they concern, and records are opened by inspection events), once topic by topic in
    the natural order — and every table equals the live one row by row."""
    clock = Clock()
    async with repair_scenario(kafka, fresh_db, clock) as (story, live):
        x, z, carer, abuser = story.x, story.z, story.carer, story.abuser
        after_activation, live_ns = story.after_activation, story.namespace
        live_state = await snapshot(live)

        # What was decided live, as the tables hold it (hand-checked against the timeline):
        x_history = [row[2:] for row in live_state["credit_grade_history"] if row[1] == str(x)]
        day = T0 + timedelta(days=400)
        assert [(h[1], h[3], h[2], h[4]) for h in x_history] == [
            ("v1", None, "A", 95),  # 2025 report overdue from 2026-04-01: the earliest entry
            ("v1", "A", "B", 77),  # serious violation (T0-5d)
            ("v1", "B", "C", 67),  # unrectified (T0-1d)
            ("v1", "C", "B", 75),  # the general violation's period ended (T0+355d)
            ("v1", "B", "A", 100),  # serious violation repaired (T0+401d)
            ("v2", "A", "A", 100),  # v2 activated (T0+403d)
        ]
        assert x_history[3][0] == T0 - timedelta(days=10) + timedelta(days=365)
        assert x_history[4][0] == day + timedelta(days=1)
        assert x_history[4][5] == "信用修复：已整改到位并作出信用承诺"
        assert {r[3]: r[4] for r in live_state["credit_repair"]} == {carer: "refused", str(x): "approved"}
        assert live_state["credit_policy_activation"] == [("v2", "credit-officer-01", day + timedelta(days=3))]
        after_key = f"violation:{json.loads(after_activation)['data']['violation_id']}"
        assert [row[3] for row in live_state["credit_entry"] if row[4] == after_key] == ["violation.general"]
        assert {(row[0], row[2]) for row in live_state["credit_list_membership"]} == {
            ("serious_dishonesty", str(z)),
            ("industry_ban", abuser),
        }
        standings = {row[1]: row[2:5] for row in live_state["credit_standing"]}
        assert standings[str(x)] == ("v2", 100, "A")
        assert standings[abuser] == ("v2", 0, "D")

        emitted = [e for e in await live.emitted() if e.type in CREDIT_DECISIONS]
        assert [(e.type.split(".")[-3:-1], e.envelope.subject) for e in emitted] == [
            (["repair", "applied"], str(x)),
            (["repair", "decided"], str(x)),
            (["repair", "applied"], carer),
            (["repair", "decided"], carer),
            (["policy", "activated"], "policy"),
        ]
        # Applying a decision the live service already took changes nothing.
        async with live.db.transaction() as session:
            for event in emitted:
                data = event.data
                if isinstance(data, CreditRepairAppliedV1):
                    assert not await repair_service.record_repair_application(session, data)
                elif isinstance(data, CreditRepairDecidedV1):
                    assert not await repair_service.record_repair_decision(
                        session, live.ctx.outbox, live.app.state.credit_env, data
                    )
                elif isinstance(data, CreditPolicyActivatedV1):
                    assert not await evaluation_service.record_policy_activation(
                        session, live.ctx.outbox, live.app.state.credit_env, data
                    )
        assert await snapshot(live) == live_state

        # --- replay every record of the three topics into empty databases ---------------------------
        by_topic = {
            topic: [(r.key, r.value) for r in await read_topic(kafka.bootstrap, f"{live_ns}{topic}")]
            for topic in (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS)
        }
        assert len(by_topic[CREDIT_EVENTS]) > 5  # the decisions and the service's outputs (ignored on replay)
        assert {k: len(v) for k, v in live_state.items()} == {
            "credit_subject": 5,
            "credit_entry": 12,
            "credit_repair": 2,
            "credit_policy_activation": 1,
            "credit_standing": 5,
            "credit_grade_history": 15,
            "credit_list_membership": 2,
        }
        for order in (
            (CREDIT_EVENTS, INSPECTION_EVENTS, FILING_EVENTS),
            (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS),
        ):
            replay_ns = f"t{uuid.uuid4().hex[:8]}."
            kafka.provision(replay_ns)
            async with credit_service(kafka.bootstrap, replay_ns, fresh_db("credit"), clock) as replay:
                for topic in order:
                    records = by_topic[topic]
                    handled = [
                        r for r in records if topic != CREDIT_EVENTS or json.loads(r[1])["type"] in CREDIT_DECISIONS
                    ]
                    before = await replay.processed()
                    await produce_raw(kafka.bootstrap, f"{replay_ns}{topic}", records)

                    async def applied(target: int = before + len(handled)) -> bool:
                        return await replay.processed() >= target

                    await eventually(applied, within=30)
                assert await snapshot(replay) == live_state, f"replay in the order {order}"


async def test_reevaluation_counts_only_real_grade_changes(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    """Subjects opened by filing alone stay ungraded on re-evaluation: no change in the job's count,
    its log or ``childcare_credit_regrades`` (a replay once reported hundreds of such "changes")."""
    clock = Clock()
    ungraded, graded = uuid.uuid4(), uuid.uuid4()
    async with credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as credit:
        await credit.send(
            submitted(ungraded, T0 - timedelta(days=30), name="越秀区未评级托育中心"),
            submitted(graded, T0 - timedelta(days=30)),
            violation(graded, "serious", T0 - timedelta(days=20)),
        )
        regrades = credit.ctx.metrics.counter("childcare_credit_regrades", "")

        def counted() -> float:
            return float(regrades._value.get())

        before = counted()
        assert await reevaluate_all(credit.ctx, credit.app.state.credit_env) == 0
        assert counted() == before
        assert await credit.scalar("SELECT count(*) FROM credit_standing WHERE subject_id = :s", s=str(ungraded)) == 0
        assert await credit.scalar("SELECT count(*) FROM credit_standing WHERE subject_id = :s", s=str(graded)) == 1
        # A real change is counted (and published): the expiry in the hand-computed sequence above.
