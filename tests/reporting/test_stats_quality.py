"""Quality assessment, filing pass rate (备案通过率), unlicensed-operator cases and complaints in the district
statistics, from events (real Kafka, real PostgreSQL).

A small data set is produced onto the domain topics as the filing and inspection services would
emit it — some events out of order, one delivered twice — and consumed by a running reporting
service. The expected figures are worked out by hand (comments beside each fact); then the topics
are replayed into an empty database and the figures must come out the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import httpx
import pytest_asyncio

from devstack.kafka import LocalKafka
from devstack.postgres import LocalPostgres
from services.reporting.rebuild import rebuild
from services.reporting.settings import ReportingSettings
from shared.db import Database
from shared.events import CloudEvent
from shared.events.filing import (
    InstitutionRejectedV1,
    InstitutionResumedV1,
    InstitutionReturnedV1,
    InstitutionSuspendedV1,
)
from shared.events.inspection import (
    ComplaintReceivedV1,
    ComplaintTriagedV1,
    QualityAssessedV1,
    UnlicensedCaseClosedV1,
    UnlicensedCaseOpenedV1,
)
from tests.reporting.test_stats_flow import (
    CONGHUA,
    TIANHE,
    YUEXIU,
    Story,
    bj,
    by_code,
    consumed_all,
    filed,
    produce,
    prof,
    stats,
    submitted,
    z,
)
from tests.support import Platform, settings_for

Q1, Q2, Q3, Q4, Q5, Q6, Q7 = (uuid.UUID(int=0x9A11_0000 + n) for n in range(1, 8))
U1, U2, U3, U4, U5, U6 = (uuid.UUID(int=0xCA5E_0000 + n) for n in range(1, 7))
C1, C2, C3 = (uuid.UUID(int=0xC0C0_0000 + n) for n in range(1, 4))


def returned(s: Story, iid: uuid.UUID, at: datetime) -> None:
    s.add(InstitutionReturnedV1(institution_id=iid, decided_by="officer-1", decided_at=at, reason="材料不全"), iid, at)


def rejected(s: Story, iid: uuid.UUID, at: datetime) -> None:
    s.add(
        InstitutionRejectedV1(institution_id=iid, decided_by="officer-1", decided_at=at, reason="不符合条件"), iid, at
    )


def assessed(s: Story, iid: uuid.UUID, n: int, district: str, grade: str, at: datetime, kind: str = "onsite") -> None:
    s.add(
        QualityAssessedV1(
            assessment_id=uuid.UUID(int=0xA55E_0000 + n),
            institution_id=iid,
            district_code=district,
            scheme_version="WS/T 821-2023",
            kind=kind,
            score=80.0,
            max_score=100.0,
            grade=grade,
            veto_failed=grade == "D",
            assessed_by="assessor-1",
            assessed_at=at,
            reassess_by=date(at.year + 2, 1, 1),
        ),
        iid,
        at,
    )


def case_opened(s: Story, cid: uuid.UUID, district: str, at: datetime) -> None:
    s.add(
        UnlicensedCaseOpenedV1(
            case_id=cid, source="complaint", district_code=district, opened_by="ops-1", opened_at=at
        ),
        cid,
        at,
    )


def case_closed(s: Story, cid: uuid.UUID, district: str, opened: datetime, at: datetime, outcome: str) -> None:
    s.add(
        UnlicensedCaseClosedV1(
            case_id=cid,
            outcome=outcome,
            district_code=district,
            institution_id=uuid.UUID(int=cid.int + 0x100) if outcome == "filed" else None,
            enforcement_decision_no="穗卫执罚〔2024〕1号" if outcome == "closed_down" else None,
            opened_at=opened,
            closed_at=at,
        ),
        cid,
        at,
    )


def complaint(s: Story, cid: uuid.UUID, district: str, category: str, at: datetime) -> None:
    s.add(
        ComplaintReceivedV1(
            complaint_id=cid, about="address", district_code=district, category=category, anonymous=True, received_at=at
        ),
        cid,
        at,
    )


def triaged(s: Story, cid: uuid.UUID, district: str, action: str, at: datetime) -> None:
    s.add(
        ComplaintTriagedV1(complaint_id=cid, action=action, district_code=district, triaged_by="ops-1", triaged_at=at),
        cid,
        at,
    )


def suspended(s: Story, iid: uuid.UUID, at: datetime) -> None:
    s.add(
        InstitutionSuspendedV1(
            institution_id=iid,
            suspended_at=at,
            reason="暂停收托",
            legal_basis="《托育机构管理规范（试行）》",
            violation_id=uuid.UUID(int=iid.int + 0x200),
            task_id=uuid.UUID(int=iid.int + 0x300),
        ),
        iid,
        at,
    )


def resumed(s: Story, iid: uuid.UUID, at: datetime) -> None:
    s.add(
        InstitutionResumedV1(
            institution_id=iid, reason="整改完成", proposed_by="officer-1", decided_by="officer-2", resumed_at=at
        ),
        iid,
        at,
    )


def data_set() -> list[CloudEvent]:
    s = Story([])
    # Q1 天河: returned 2024-01-10, filed 2024-02-01. Its on-site C is 2025 in Beijing.
    returned(s, Q1, bj(2024, 1, 10))
    filed(s, Q1, bj(2024, 2, 1), prof(Q1, TIANHE, "440106001", 50, 20))
    assessed(s, Q1, 1, TIANHE, "C", z(2024, 12, 31, 17))
    # Q2 天河: filed 2023 (a 2023 decision). On-site B then A — the newer arrives first; a later
    # self-assessment D does not count.
    filed(s, Q2, bj(2023, 6, 1), prof(Q2, TIANHE, "440106002", 40, 40))
    assessed(s, Q2, 3, TIANHE, "A", bj(2024, 9, 1))
    assessed(s, Q2, 2, TIANHE, "B", bj(2024, 3, 1))
    assessed(s, Q2, 4, TIANHE, "D", bj(2024, 10, 1), kind="self")
    # Q3 越秀: submitted, rejected 2024-04-20 (district from the submission).
    submitted(s, Q3, bj(2024, 4, 1), prof(Q3, YUEXIU, "440104001", 30, 0))
    rejected(s, Q3, bj(2024, 4, 20))
    # Q4 越秀: filed 2024-05-01, the earlier return arrives after the filing. On-site B.
    filed(s, Q4, bj(2024, 5, 1), prof(Q4, YUEXIU, "440104003", 20, 20))
    returned(s, Q4, bj(2024, 4, 15))
    assessed(s, Q4, 5, YUEXIU, "B", bj(2024, 6, 1))
    # Q5 从化: filed 2022; on-site D in 2023 is still its newest at the end of 2024.
    filed(s, Q5, bj(2022, 3, 1), prof(Q5, CONGHUA, "440117001", 10, 10))
    assessed(s, Q5, 6, CONGHUA, "D", bj(2023, 11, 1))
    # Q6 从化: submitted 2023-12-01, returned 01:00 on 1 January 2024 Beijing (2023 in UTC).
    submitted(s, Q6, bj(2023, 12, 1), prof(Q6, CONGHUA, "440117002", 15, 15))
    returned(s, Q6, z(2023, 12, 31, 17))
    # Q7: assessed on site but never filed: in no share.
    assessed(s, Q7, 7, CONGHUA, "A", bj(2024, 7, 1))

    # U1 天河 opened 2024-03-01, open. U2 天河 opened 2023, closed (filed) 2024-05-01; the closure
    # arrives first. U3 越秀 opened and closed down in 2024. U4 越秀 opened 2024-11-01, closed
    # (filed) 2025-01-01 01:00 Beijing. U5 从化 opened 2023, open. U6 从化 opened 2025.
    case_opened(s, U1, TIANHE, bj(2024, 3, 1))
    case_closed(s, U2, TIANHE, bj(2023, 10, 1), bj(2024, 5, 1), "filed")
    case_opened(s, U2, TIANHE, bj(2023, 10, 1))
    case_opened(s, U3, YUEXIU, bj(2024, 2, 1))
    case_closed(s, U3, YUEXIU, bj(2024, 2, 1), bj(2024, 8, 1), "closed_down")
    case_opened(s, U4, YUEXIU, bj(2024, 11, 1))
    case_closed(s, U4, YUEXIU, bj(2024, 11, 1), z(2024, 12, 31, 17), "filed")
    case_opened(s, U5, CONGHUA, bj(2023, 5, 1))
    case_opened(s, U6, CONGHUA, bj(2025, 1, 10))
    # C1 天河 received 2024-03-01, a targeted inspection on 2024-03-05 (the triage arrives first). C2
    # 越秀 received 18:00 on 31 December 2024 (Beijing), closed on 2025-01-03: waiting at the end of
    # 2024. C3 从化 received 2023-12-20, referred on 2024-01-02.
    triaged(s, C1, TIANHE, "targeted_inspection", bj(2024, 3, 5))
    complaint(s, C1, TIANHE, "safety", bj(2024, 3, 1))
    complaint(s, C2, YUEXIU, "fees", z(2024, 12, 31, 10))
    triaged(s, C2, YUEXIU, "close", bj(2025, 1, 3))
    complaint(s, C3, CONGHUA, "abuse", bj(2023, 12, 20))
    triaged(s, C3, CONGHUA, "referral", bj(2024, 1, 2))
    # Q4 越秀 suspended (暂停收托) on 2024-07-01 and still suspended; Q2 天河 suspended on 2024-08-01
    # and resumed on 2024-09-01 (the resumption arrives first)
    suspended(s, Q4, bj(2024, 7, 1))
    resumed(s, Q2, bj(2024, 9, 1))
    suspended(s, Q2, bj(2024, 8, 1))
    # a redelivery of U3's closure and Q4's return: counted once
    s.events += [
        e for e in s.events if (e.subject, e.type.split(".")[-2]) in ((str(U3), "case_closed"), (str(Q4), "returned"))
    ]
    assert len(s.events) == 26 + 6 + 3 + 2
    return s.events


@dataclass
class Scenario:
    client: httpx.AsyncClient
    unique_events: int
    kafka: LocalKafka
    namespace: str
    pg: LocalPostgres


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scenario(kafka: LocalKafka, pg: LocalPostgres) -> AsyncIterator[Scenario]:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    events = data_set()
    unique = len({e.id for e in events})
    assert unique < len(events)  # the data set does deliver something twice
    await produce(kafka, namespace, events)
    name = f"t_reporting_quality_{uuid.uuid4().hex[:8]}"
    url = pg.create_service_database(name, "reporting", template="tpl_reporting")
    try:
        async with Platform(kafka.bootstrap, namespace, {"reporting": url}) as p:
            client = p.clients["reporting"]
            await consumed_all(client, unique)
            yield Scenario(client, unique, kafka, namespace, pg)
    finally:
        pg.drop_database(name)


GRADES0 = {"A": 0, "B": 0, "C": 0, "D": 0}


async def test_quality_assessment_share_and_grade_mix(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    d = by_code(body)
    # filed at the end of 2024: 天河 Q1, Q2; 越秀 Q4; 从化 Q5. Newest on-site before 2025 (Beijing):
    # Q2 A (not its older B, not its self D), Q4 B, Q5 D; Q1's C is 2025; Q7 is not filed.
    assert d[TIANHE]["quality_assessment"] == {
        "filed_institutions": 2, "assessed": 1, "share": 0.5, "grades": {**GRADES0, "A": 1},
    }  # fmt: skip
    assert d[YUEXIU]["quality_assessment"] == {
        "filed_institutions": 1, "assessed": 1, "share": 1.0, "grades": {**GRADES0, "B": 1},
    }  # fmt: skip
    assert d[CONGHUA]["quality_assessment"] == {
        "filed_institutions": 1, "assessed": 1, "share": 1.0, "grades": {**GRADES0, "D": 1},
    }  # fmt: skip
    assert d["440111"]["quality_assessment"] == {
        "filed_institutions": 0, "assessed": 0, "share": None, "grades": GRADES0,
    }  # fmt: skip
    assert body["city"]["quality_assessment"] == {
        "filed_institutions": 4, "assessed": 3, "share": 0.75, "grades": {"A": 1, "B": 1, "C": 0, "D": 1},
    }  # fmt: skip
    # 2025: Q1's C counts now
    later = by_code(await stats(scenario.client, "/v1/stats/districts?year=2025"))
    assert later[TIANHE]["quality_assessment"] == {
        "filed_institutions": 2, "assessed": 2, "share": 1.0, "grades": {**GRADES0, "A": 1, "C": 1},
    }  # fmt: skip


async def test_filing_pass_rate(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    d = by_code(body)
    # decisions in 2024 (Beijing): 天河 Q1 returned + filed; 越秀 Q3 rejected, Q4 returned + filed
    # (its return delivered twice); 从化 Q6 returned (2023 in UTC). Q2's and Q5's filings are earlier.
    assert d[TIANHE]["filing_decisions"] == {"filed": 1, "returned": 1, "rejected": 0, "total": 2, "pass_rate": 0.5}
    assert d[YUEXIU]["filing_decisions"] == {
        "filed": 1, "returned": 1, "rejected": 1, "total": 3, "pass_rate": 0.3333,
    }  # fmt: skip
    assert d[CONGHUA]["filing_decisions"] == {"filed": 0, "returned": 1, "rejected": 0, "total": 1, "pass_rate": 0.0}
    assert d["440111"]["filing_decisions"] == {
        "filed": 0, "returned": 0, "rejected": 0, "total": 0, "pass_rate": None,
    }  # fmt: skip
    assert body["city"]["filing_decisions"] == {
        "filed": 2, "returned": 3, "rejected": 1, "total": 6, "pass_rate": 0.3333,
    }  # fmt: skip
    earlier = await stats(scenario.client, "/v1/stats/districts?year=2023")
    assert earlier["city"]["filing_decisions"] == {  # Q2 only
        "filed": 1, "returned": 0, "rejected": 0, "total": 1, "pass_rate": 1.0,
    }  # fmt: skip


async def test_unlicensed_cases(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    d = by_code(body)
    assert d[TIANHE]["unlicensed_cases"] == {"opened": 1, "open": 1, "closed_filed": 1, "closed_down": 0}  # U1; U2
    assert d[YUEXIU]["unlicensed_cases"] == {"opened": 2, "open": 1, "closed_filed": 0, "closed_down": 1}  # U3, U4
    assert d[CONGHUA]["unlicensed_cases"] == {"opened": 0, "open": 1, "closed_filed": 0, "closed_down": 0}  # U5
    assert body["city"]["unlicensed_cases"] == {"opened": 3, "open": 3, "closed_filed": 1, "closed_down": 1}
    later = by_code(body25 := await stats(scenario.client, "/v1/stats/districts?year=2025"))
    assert later[TIANHE]["unlicensed_cases"] == {"opened": 0, "open": 1, "closed_filed": 0, "closed_down": 0}
    assert later[YUEXIU]["unlicensed_cases"] == {"opened": 0, "open": 0, "closed_filed": 1, "closed_down": 0}
    assert later[CONGHUA]["unlicensed_cases"] == {"opened": 1, "open": 2, "closed_filed": 0, "closed_down": 0}
    assert body25["city"]["unlicensed_cases"] == {"opened": 1, "open": 3, "closed_filed": 1, "closed_down": 0}


async def test_complaints_received_and_triaged(scenario: Scenario) -> None:
    d = by_code(body := await stats(scenario.client, "/v1/stats/districts?year=2024"))
    categories0 = {c: 0 for c in ("safety", "abuse", "hygiene_food", "staffing", "fees", "unlicensed", "other")}
    actions0 = {a: 0 for a in ("targeted_inspection", "referral", "close", "open_unlicensed_case")}
    assert d[TIANHE]["complaints"] == {
        "received": 1, "by_category": {**categories0, "safety": 1},
        "triaged": 1, "by_action": {**actions0, "targeted_inspection": 1}, "untriaged": 0,
    }  # fmt: skip
    assert d[YUEXIU]["complaints"] == {
        "received": 1, "by_category": {**categories0, "fees": 1}, "triaged": 0, "by_action": actions0, "untriaged": 1,
    }  # fmt: skip
    # C3 was received in 2023 and triaged in 2024
    assert d[CONGHUA]["complaints"] == {
        "received": 0, "by_category": categories0, "triaged": 1, "by_action": {**actions0, "referral": 1},
        "untriaged": 0,
    }  # fmt: skip
    city = body["city"]["complaints"]
    assert (city["received"], city["triaged"], city["untriaged"]) == (2, 2, 1)
    later = (await stats(scenario.client, "/v1/stats/districts?year=2025"))["city"]["complaints"]
    assert (later["received"], later["triaged"], later["by_action"]["close"], later["untriaged"]) == (0, 1, 1, 0)
    earlier = (await stats(scenario.client, "/v1/stats/districts?year=2023"))["city"]["complaints"]
    assert (earlier["received"], earlier["triaged"], earlier["untriaged"]) == (1, 0, 1)


async def test_an_institution_suspended_on_the_due_day_owes_no_report(scenario: Scenario) -> None:
    d = by_code(body := await stats(scenario.client, "/v1/stats/districts?year=2024"))
    # the 2024 reports (due 31 March 2025): 天河 Q1 and Q2 (resumed before the due day); 越秀 Q4 is
    # suspended then and owes none, as in the filing service's completion; 从化 Q5
    owing = {code: d[code]["annual_reports"]["expected"] for code in (TIANHE, YUEXIU, CONGHUA)}
    assert owing == {TIANHE: 2, YUEXIU: 0, CONGHUA: 1}
    assert body["city"]["annual_reports"]["expected"] == 3
    # Q4 is still filed (it counts among the institutions) and offers none of its 20 places
    assert (d[YUEXIU]["institutions"], d[YUEXIU]["slots"]["value"]) == (1, 0)


async def test_existing_keys_are_unchanged(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    # the keys there were, and those added since (per operating model, complaints); none removed
    assert set(body["city"]) == {
        "code", "name", "institutions", "slots", "slots_per_1000", "puhui", "annual_reports", "staff",
        "inspections", "violations", "credit_grades", "quality_assessment", "filing_decisions", "unlicensed_cases",
        "operating_models", "complaints",
    }  # fmt: skip
    # every figure has its Chinese name in the answer
    assert {"slots.value", "inspections.coverage", "filing_decisions.pass_rate", "complaints.received"} <= set(
        body["labels"]
    )


async def test_replay_gives_the_same_figures(scenario: Scenario) -> None:
    paths = [f"/v1/stats/districts?year={y}" for y in (2023, 2024, 2025)]
    live = [await stats(scenario.client, p) for p in paths]
    name = f"t_reporting_quality_replay_{uuid.uuid4().hex[:8]}"
    url = scenario.pg.create_service_database(name, "reporting", template="tpl_reporting")
    try:
        db = Database(url, pool_size=2)
        try:
            settings = settings_for(
                "reporting", kafka_bootstrap_servers=scenario.kafka.bootstrap, kafka_namespace=scenario.namespace
            )
            assert isinstance(settings, ReportingSettings)
            result = await rebuild(db, settings)
            assert result.tree_size == scenario.unique_events
        finally:
            await db.dispose()
        async with Platform(scenario.kafka.bootstrap, scenario.namespace, {"reporting": url}) as replayed:
            assert [await stats(replayed.clients["reporting"], p) for p in paths] == live
    finally:
        scenario.pg.drop_database(name)
