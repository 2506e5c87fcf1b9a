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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from devstack.kafka import LocalKafka
from services.credit.jobs import reevaluate_all
from shared.events.filing import StaffHiredV1
from tests.credit.support import (
    T0,
    Clock,
    Credit,
    clean_inspection,
    credit_service,
    envelope,
    escalated,
    grades,
    report_overdue,
    submitted,
    violation,
)
from tests.support import token

OFFICER = token("credit_officer", subject="credit-officer-01")
READER = token("supervisor")
SHA = "a" * 64


def sequence(institution_id: uuid.UUID, general_id: uuid.UUID) -> list[bytes]:
    return [
        submitted(institution_id, T0 - timedelta(days=30)),
        clean_inspection(institution_id, T0 - timedelta(days=20)),
        violation(institution_id, "general", T0 - timedelta(days=10), violation_id=general_id),
        violation(institution_id, "serious", T0 - timedelta(days=5), legal_basis="《消防法》第十六条"),
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
    x, general_id = uuid.uuid4(), uuid.uuid4()
    events = sequence(x, general_id)
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
        assert [e.type.split(".")[-3] for e in emitted] == ["record", "institution", "institution", "institution"]
        assert grades(emitted) == [(None, "A", 102.0, "v1"), ("A", "B", 82.0, "v1"), ("B", "C", 67.0, "v1")]

        public = await credit.client.get(f"/v1/public/credit/institutions/{x}")
        assert public.status_code == 200
        assert public.json() == {
            "institution_id": str(x),
            "grade": "C",
            "graded_at": public.json()["graded_at"],
            "policy_version": "v1",
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
        assert await reevaluate_all(credit.ctx, credit.app.state.credit_env) == 1
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

        applied = await credit.client.post(
            "/v1/credit/repairs",
            json={
                "entry_id": serious_entry,
                "evidence_sha256": [SHA, "b" * 64],
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
        decided = await credit.client.post(
            f"/v1/credit/repairs/{repair_id}/decision",
            json={"decision": "approve", "reason": "已整改到位并作出信用承诺"},
            headers=OFFICER,
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
        # The entry itself was never edited (append-only), the repair is its own row.
        assert await credit.scalar("SELECT count(*) FROM credit_entry") == 5


TABLES = {
    "credit_subject": "subject_kind, subject_id, display_name, district_code, opened_at, opened_by_event_id, "
    "profile_at, deregistered_at",
    "credit_entry": "id, subject_kind, subject_id, rule_id, policy_version, points, source_key, source_event_id, "
    "source_event_type, effective_from, counts_until, legal_basis, detail_zh",
    "credit_standing": "subject_kind, subject_id, policy_version, score, grade, graded_at, evaluated_at",
    "credit_list_membership": "list_name, subject_kind, subject_id, reason, legal_basis, entered_at, until, "
    "cause_entry_ids, left_at",
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
