"""Reporting's credit figures equal credit's own answer after every kind of credit event (issue 20,
item 5): a new entry that changes the grade, one that only changes the score, expiry found by the
scheduled re-evaluation, an approved repair inside a grade (the demo's 84 vs 86: only grade changes
were announced, so reporting kept the score of the last one) and a policy activation.

Credit runs with a controllable clock (entries expire without waiting); reporting consumes what
credit's relay publishes, on the real broker, into its own database.

Hand computation under policies/v1.yaml (base 100; A ≥ 90, B ≥ 75, C ≥ 60):

    serious violation (T0-5d)      -15   85  B   record entry, first grade
    general violation (T0-4d)       -5   80  B   record entry inside the grade
    minor violation (T0-3d)         -2   78  B   record entry inside the grade
    second serious (T0-2d)         -15   63  C   grade change
    T0+100d: the minor one expired (90 d)  65  C   expiry
    the general one repaired (≥ 90 d)       70  C   repair inside the grade
    v2 activated (C ≥ 70)                   70  C   policy activation, same score
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from devstack.kafka import LocalKafka
from services.credit.jobs import reevaluate_all
from tests.credit.support import (
    T0,
    Clock,
    Credit,
    closed,
    credit_service,
    submitted,
    upload_evidence,
    violation,
)
from tests.support import Platform, eventually, token

OPS = token("ops")
READER = token("supervisor")
OFFICER = token("credit_officer", subject="credit-officer-01")
DECIDER = token("credit_officer", subject="credit-officer-02")  # a repair is decided by another officer


async def credit_answer(credit: Credit, institution_id: uuid.UUID) -> tuple[str, float, str]:
    response = await credit.client.get(f"/v1/credit/institutions/{institution_id}", headers=READER)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["grade"], float(body["score"]), body["policy_version"]


async def reporting_answer(reporting: httpx.AsyncClient, institution_id: uuid.UUID) -> tuple[str, float] | None:
    response = await reporting.get(f"/v1/institutions/{institution_id}/summary", headers=OPS)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    grade: dict[str, Any] | None = response.json()["credit_grade"]
    return (grade["grade"], float(grade["score"])) if grade else None


async def test_reporting_shows_credits_grade_and_score_after_every_kind_of_credit_event(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    clock = Clock()
    x, general_id = uuid.uuid4(), uuid.uuid4()
    async with (
        Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as platform,
        credit_service(kafka.bootstrap, namespace, fresh_db("credit"), clock) as credit,
    ):
        reporting = platform.clients["reporting"]
        seen: list[tuple[str, float, str]] = []

        async def step(expected: tuple[str, float, str]) -> None:
            """Credit answers ``expected``, and reporting comes to answer the same grade and score."""
            answer = await credit_answer(credit, x)
            assert answer == expected
            seen.append(answer)

            async def agrees() -> bool:
                return await reporting_answer(reporting, x) == answer[:2]

            await eventually(agrees, within=30)
            clock.advance(minutes=5)  # the next step happens later, as it would

        await credit.send(submitted(x, T0 - timedelta(days=30)))
        await credit.send(violation(x, "serious", T0 - timedelta(days=5)))
        await step(("B", 85, "v1"))
        await credit.send(violation(x, "general", T0 - timedelta(days=4), violation_id=general_id))
        await step(("B", 80, "v1"))
        await credit.send(violation(x, "minor", T0 - timedelta(days=3)))
        await step(("B", 78, "v1"))
        await credit.send(violation(x, "serious", T0 - timedelta(days=2)))
        await step(("C", 63, "v1"))

        # Expiry: no event arrives, the scheduled re-evaluation finds it.
        clock.advance(days=100)
        await reevaluate_all(credit.ctx, credit.app.state.credit_env)
        await step(("C", 65, "v1"))

        # Repair inside the grade (the demo's case): the general violation, rectified, repaired.
        await credit.send(closed(x, general_id, T0 + timedelta(days=99)))
        record = (await credit.client.get(f"/v1/credit/institutions/{x}", headers=READER)).json()
        entry_id = next(line["entry_id"] for line in record["lines"] if line["rule_id"] == "violation.general")
        evidence = await upload_evidence(credit.client, entry_id, OFFICER, "整改报告")
        applied = await credit.client.post(
            "/v1/credit/repairs",
            json={"entry_id": entry_id, "evidence_sha256": [evidence], "commitment": "已整改到位，承诺守法经营"},
            headers=OFFICER,
        )
        assert applied.status_code == 201, applied.text
        decided = await credit.client.post(
            f"/v1/credit/repairs/{applied.json()['id']}/decision",
            json={"decision": "approve", "reason": "已整改到位并作出信用承诺"},
            headers=DECIDER,
        )
        assert decided.status_code == 200, decided.text
        await step(("C", 70, "v1"))

        # Policy activation: v2's thresholds keep 70 at C; the policy version changes.
        activated = await credit.client.post("/v1/credit/policies/v2/activate", headers=OFFICER)
        assert activated.status_code == 200, activated.text
        await step(("C", 70, "v2"))

    assert [s[:2] for s in seen] == [("B", 85), ("B", 80), ("B", 78), ("C", 63), ("C", 65), ("C", 70), ("C", 70)]
