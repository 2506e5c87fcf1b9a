"""Statistics and the institution summary from events (real Kafka, real PostgreSQL).

A small city is produced onto the domain topics as the other services would emit it — some events
deliberately out of order — and consumed by a running reporting service. The expected figures
below are worked out by hand from the data set (see the comments beside each institution), not
by re-running the service's formulas. Then the topics are replayed into an empty database
(services/reporting/rebuild.py) and the statistics must come out the same.

Times are Beijing time (UTC+8) unless written with ``Z``; several events sit just across a year
boundary in Beijing while still inside the old year in UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devstack.kafka import LocalKafka
from devstack.postgres import LocalPostgres
from services.reporting.rebuild import rebuild
from services.reporting.settings import ReportingSettings
from shared.db import Database
from shared.events import CATALOGUE, CloudEvent, EventData
from shared.events.credit import InstitutionGradedV1
from shared.events.filing import (
    AnnualReportOverdueV1,
    AnnualReportSubmittedV1,
    Certificate,
    InstitutionChangedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionSubmittedV1,
    StaffHiredV1,
    StaffLeftV1,
)
from shared.events.inspection import InspectionResultPublishedV1, ViolationClosedV1, ViolationConfirmedV1
from shared.reference import districts
from shared.workdays import CHINA, china_today
from tests.reporting.support import envelope, profile
from tests.support import Platform, eventually, produce_raw, settings_for, token

OPS = token("ops")

T1, T2, T3, T4, T5, T6, T7, T8, T9, T10 = (uuid.UUID(int=0x51A7_0000 + n) for n in range(1, 11))
TIANHE, YUEXIU, CONGHUA = "440106", "440104", "440117"


def bj(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=CHINA)


def z(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=UTC)


def person(n: int) -> str:
    return f"{n:064x}"


def task(n: int) -> uuid.UUID:
    return uuid.UUID(int=0x7A5C_0000 + n)


def violation_id(n: int) -> uuid.UUID:
    return uuid.UUID(int=0xB10_0000 + n)


def staff_id(n: int) -> uuid.UUID:
    return uuid.UUID(int=0x57AF_0000 + n)


@dataclass
class Story:
    events: list[CloudEvent]

    def add(self, data: EventData, subject: uuid.UUID | str, at: datetime) -> None:
        self.events.append(envelope(data, str(subject), at=at))


def prof(iid: uuid.UUID, district: str, street: str, total: int, puhui: int, model: str = "private") -> Any:
    return profile(
        name=f"机构{iid.int & 0xFF}",
        district_code=district,
        street_code=street,
        total_slots=total,
        puhui_slots=puhui,
        operating_model=model,
    )


def filed(s: Story, iid: uuid.UUID, at: datetime, p: Any) -> None:
    s.add(InstitutionFiledV1(institution_id=iid, profile=p, decided_by="officer-1", decided_at=at), iid, at)


def submitted(s: Story, iid: uuid.UUID, at: datetime, p: Any) -> None:
    s.add(
        InstitutionSubmittedV1(
            institution_id=iid,
            uscc=p.uscc,
            name=p.name,
            district_code=p.district_code,
            street_code=p.street_code,
            submitted_at=at,
            profile=p,
        ),
        iid,
        at,
    )


def hired(s: Story, iid: uuid.UUID, n: int, role: str, on: date, certs: list[tuple[str, date | None]]) -> None:
    s.add(
        StaffHiredV1(
            institution_id=iid,
            staff_id=staff_id(n),
            person_ref=person(n),
            id_masked="4401**********123X",
            name=f"员工{n}",
            role=role,
            hired_on=on,
            certificates=[Certificate(kind=k, number=f"N-{n}-{i}", expires_on=e) for i, (k, e) in enumerate(certs)],
        ),
        iid,
        bj(on.year, on.month, on.day),
    )


def left(s: Story, iid: uuid.UUID, n: int, on: date) -> None:
    s.add(
        StaffLeftV1(institution_id=iid, staff_id=staff_id(n), person_ref=person(n), left_on=on),
        iid,
        bj(on.year, on.month, on.day),
    )


def inspected(s: Story, iid: uuid.UUID, n: int, at: datetime, conclusion: str = "compliant") -> None:
    s.add(
        InspectionResultPublishedV1(
            institution_id=iid,
            task_id=task(n),
            kind="random",
            conclusion=conclusion,
            violation_count=0,
            summary_zh="检查结果",
            inspected_at=at,
            published_at=at,
        ),
        iid,
        at,
    )


def confirmed(s: Story, iid: uuid.UUID, n: int, severity: str, at: datetime) -> None:
    s.add(
        ViolationConfirmedV1(
            violation_id=violation_id(n),
            task_id=task(n),
            institution_id=iid,
            code=f"V-{n}",
            title_zh=f"违规{n}",
            severity=severity,
            legal_basis="《托育机构管理规范（试行）》",
            description="检查发现",
            confirmed_by="supervisor-1",
            confirmed_at=at,
        ),
        iid,
        at,
    )


def graded(s: Story, iid: uuid.UUID, grade: str, at: datetime) -> None:
    s.add(
        InstitutionGradedV1(institution_id=iid, grade=grade, score=80.0, policy_version="v1", graded_at=at),
        iid,
        at,
    )


def report(s: Story, iid: uuid.UUID, year: int, at: datetime, on_time: bool) -> None:
    s.add(
        AnnualReportSubmittedV1(
            institution_id=iid,
            year=year,
            submitted_at=at,
            on_time=on_time,
            enrolled_children=10,
            staff_count=3,
            incidents=0,
        ),
        iid,
        at,
    )


def city() -> list[CloudEvent]:
    s = Story([])
    # T1 天河 五山 440106001, private, 100 slots / 40 普惠, filed 2023-05-10.
    p1 = prof(T1, TIANHE, "440106001", 100, 40)
    submitted(s, T1, bj(2023, 5, 1), p1)
    filed(s, T1, bj(2023, 5, 10), p1)
    hired(s, T1, 1, "carer", date(2023, 6, 1), [("保育师证", date(2099, 12, 31))])  # certified
    hired(s, T1, 2, "principal", date(2023, 6, 1), [("托育机构负责人岗位培训合格证", None)])  # certified, trained
    hired(s, T1, 3, "carer", date(2023, 7, 1), [("育婴员证", date(2024, 6, 30))])  # expired mid-2024
    hired(s, T1, 4, "cook", date(2023, 7, 1), [])
    left(s, T1, 4, date(2024, 10, 1))  # gone by the end of 2024
    report(s, T1, 2023, bj(2024, 3, 1), on_time=True)
    inspected(s, T1, 1, bj(2024, 4, 10), "rectification_required")
    confirmed(s, T1, 1, "serious", bj(2024, 4, 12))  # stays open
    s.add(
        ViolationClosedV1(violation_id=violation_id(2), institution_id=T1, closed_at=bj(2024, 6, 1)),
        T1,
        bj(2024, 6, 1),
    )  # the closure arrives before its confirmation
    confirmed(s, T1, 2, "minor", bj(2024, 4, 12))
    graded(s, T1, "B", bj(2024, 5, 1))  # the newer grade arrives first ...
    graded(s, T1, "A", bj(2023, 6, 1))  # ... the older one must not replace it

    # T2 天河 员村 440106002, 公建民营, filed 2024-03-01 with 50/50; changed 2024-09-01 to 60/50 and
    # 2025-02-01 to 80/60. The filing arrives before the submission.
    p2 = prof(T2, TIANHE, "440106002", 50, 50, "public_private")
    filed(s, T2, bj(2024, 3, 1), p2)
    submitted(s, T2, bj(2024, 2, 20), p2)
    for changed_at, total, puhui in ((bj(2025, 2, 1), 80, 60), (bj(2024, 9, 1), 60, 50)):  # newest first
        s.add(
            InstitutionChangedV1(
                institution_id=T2,
                changed_fields=["total_slots"],
                profile=prof(T2, TIANHE, "440106002", total, puhui, "public_private"),
                changed_at=changed_at,
            ),
            T2,
            changed_at,
        )
    hired(s, T2, 5, "health", date(2024, 3, 5), [("托幼机构卫生保健人员培训合格证", date(2026, 1, 1))])
    left(s, T2, 6, date(2024, 11, 30))  # the departure arrives before the hire
    hired(s, T2, 6, "carer", date(2024, 3, 5), [("育婴员证", None)])
    inspected(s, T2, 2, bj(2025, 1, 10))
    confirmed(s, T2, 3, "general", bj(2024, 8, 1))
    graded(s, T2, "C", z(2024, 12, 31, 17))  # 2025-01-01 01:00 in Beijing: not in force during 2024
    report(s, T2, 2024, bj(2025, 3, 10), on_time=True)

    # T3 天河 五山, filed 2022-08-01, deregistered 2024-06-30; owed its 2023 report (due 2024-03-31).
    p3 = prof(T3, TIANHE, "440106001", 30, 0)
    filed(s, T3, bj(2022, 8, 1), p3)
    s.add(
        AnnualReportOverdueV1(institution_id=T3, year=2023, due_date=date(2024, 3, 31), district_code=TIANHE),
        T3,
        bj(2024, 4, 1),
    )
    inspected(s, T3, 3, bj(2024, 3, 1))
    confirmed(s, T3, 4, "critical", bj(2024, 2, 1))
    graded(s, T3, "D", bj(2024, 2, 10))
    s.add(
        InstitutionDeregisteredV1(institution_id=T3, reason="停止办学", deregistered_at=bj(2024, 6, 30)),
        T3,
        bj(2024, 6, 30),
    )

    # T4 越秀 洪桥 440104001, private, 200 / 0 普惠, filed 2023-01-15, deregistered 2025-05-01.
    p4 = prof(T4, YUEXIU, "440104001", 200, 0)
    filed(s, T4, bj(2023, 1, 15), p4)
    hired(s, T4, 7, "carer", date(2023, 2, 1), [("保育师证", date(2028, 1, 1))])
    report(s, T4, 2023, bj(2024, 4, 20), on_time=False)
    inspected(s, T4, 4, bj(2023, 11, 1))
    inspected(s, T4, 5, z(2024, 12, 31, 20))  # 2025-01-01 04:00 in Beijing
    confirmed(s, T4, 5, "minor", z(2023, 12, 31, 17))  # 2024-01-01 01:00 in Beijing (2023 in UTC)
    graded(s, T4, "A", bj(2024, 3, 1))
    s.add(
        InstitutionDeregisteredV1(institution_id=T4, reason="迁出", deregistered_at=bj(2025, 5, 1)),
        T4,
        bj(2025, 5, 1),
    )

    # T5 越秀 北京街道 440104003, community, 20 / 20, filed 2024-01-01 01:00 Beijing (2023 in UTC).
    p5 = prof(T5, YUEXIU, "440104003", 20, 20, "community")
    filed(s, T5, z(2023, 12, 31, 17), p5)
    hired(s, T5, 8, "carer", date(2025, 1, 5), [("保育师证", None)])  # not yet employed in 2024
    inspected(s, T5, 6, bj(2024, 7, 1))
    confirmed(s, T5, 6, "serious", z(2024, 12, 31, 16, 30))  # 2025-01-01 00:30 in Beijing

    # T6 从化: submitted only, never filed.
    p6 = prof(T6, CONGHUA, "440117003", 40, 40)
    submitted(s, T6, bj(2024, 5, 5), p6)

    # T7: only a grade is known (placeholder).
    graded(s, T7, "C", bj(2024, 6, 6))

    # T8 从化 街口 440117001, 10 / 10, filed 2021-06-01.
    p8 = prof(T8, CONGHUA, "440117001", 10, 10)
    filed(s, T8, bj(2021, 6, 1), p8)
    report(s, T8, 2023, bj(2024, 2, 2), on_time=True)
    inspected(s, T8, 7, bj(2024, 5, 5))
    confirmed(s, T8, 8, "general", bj(2024, 6, 6))
    graded(s, T8, "B", bj(2024, 1, 15))

    # T9 从化 江埔 440117002, public, 30 / 30, filed 2023-09-09; its 2023 report is not in.
    p9 = prof(T9, CONGHUA, "440117002", 30, 30, "public")
    filed(s, T9, bj(2023, 9, 9), p9)
    inspected(s, T9, 9, bj(2024, 10, 10))

    # T10 越秀 洪桥 440104001, 公建民营, 25 / 10, filed 2025-03-01.
    p10 = prof(T10, YUEXIU, "440104001", 25, 10, "public_private")
    filed(s, T10, bj(2025, 3, 1), p10)
    return s.events


# --- the running service ------------------------------------------------------------------------


@dataclass
class Scenario:
    client: httpx.AsyncClient
    events: list[CloudEvent]
    kafka: LocalKafka
    namespace: str
    pg: LocalPostgres


async def produce(kafka: LocalKafka, namespace: str, events: list[CloudEvent]) -> None:
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])


async def consumed_all(client: httpx.AsyncClient, count: int) -> None:
    async def done() -> bool:
        return bool((await client.get("/v1/ledger?limit=1", headers=OPS)).json()["tree_size"] == count)

    await eventually(done, within=40)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scenario(kafka: LocalKafka, pg: LocalPostgres) -> AsyncIterator[Scenario]:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    events = city()
    await produce(kafka, namespace, events)
    name = f"t_reporting_stats_{uuid.uuid4().hex[:8]}"
    url = pg.create_service_database(name, "reporting", template="tpl_reporting")
    try:
        async with Platform(kafka.bootstrap, namespace, {"reporting": url}) as p:
            client = p.clients["reporting"]
            await consumed_all(client, len(events))
            yield Scenario(client, events, kafka, namespace, pg)
    finally:
        pg.drop_database(name)


async def stats(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)  # public: no token
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in body["districts"]}


# --- statistics for 2024 --------------------------------------------------------------------------


async def test_slots_density_and_puhui_share_per_district_and_city(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    assert body["year"] == 2024
    assert body["as_of"] == "2024-12-31"
    d = by_code(body)
    assert len(d) == 11
    # 天河: T1 (100/40) + T2 as changed on 2024-09-01 (60/50); T3 deregistered in June.
    assert d[TIANHE]["institutions"] == 2
    assert d[TIANHE]["slots"] == {  # 160/13960
        "value": 160, "target": 13960, "progress": 0.0115, "gap": 13800,
        "baseline_2022": 6716, "planned_2025": 17060, "to_add_2025": 16900,
    }  # fmt: skip
    # 千人口托位 5.0 is the plan's city-wide target: a district carries none (the city does, below)
    assert d[TIANHE]["slots_per_1000"] == {"value": 0.0715, "target": None, "residents": 2238000}  # 160/2238
    assert d[TIANHE]["puhui"] == {"slots": 90, "share": 0.5625, "target": None}  # 90/160; no 2024 target
    # 越秀: T4 (200/0) + T5 (20/20, filed 01:00 on 1 January 2024 Beijing).
    assert d[YUEXIU]["slots"] == {  # 220/6760
        "value": 220, "target": 6760, "progress": 0.0325, "gap": 6540,
        "baseline_2022": 3111, "planned_2025": 8320, "to_add_2025": 8100,
    }  # fmt: skip
    assert d[YUEXIU]["slots_per_1000"]["value"] == 0.2292  # 220/960
    assert d[YUEXIU]["puhui"] == {"slots": 20, "share": 0.0909, "target": None}  # 20/220
    # 从化: T8 (10/10) + T9 (30/30); T6 only submitted.
    assert d[CONGHUA]["slots"] == {  # 40/2460
        "value": 40, "target": 2460, "progress": 0.0163, "gap": 2420,
        "baseline_2022": 1020, "planned_2025": 3070, "to_add_2025": 3030,
    }  # fmt: skip
    assert d[CONGHUA]["slots_per_1000"]["value"] == 0.0546  # 40/732.6
    assert d[CONGHUA]["puhui"]["share"] == 1.0
    # a district without institutions is there, with zeros and its target
    assert d["440111"]["institutions"] == 0
    assert d["440111"]["slots"] == {
        "value": 0, "target": 12990, "progress": 0.0, "gap": 12990,
        "baseline_2022": 8001, "planned_2025": 15130, "to_add_2025": 15130,
    }  # fmt: skip
    assert d["440111"]["puhui"]["share"] is None
    c = body["city"]
    assert c["code"] == "440100"
    assert c["institutions"] == 6
    assert c["slots"] == {  # 420/103360 (sum of annex)
        "value": 420, "target": 103360, "progress": 0.0041, "gap": 102940,
        "baseline_2022": 60336, "planned_2025": 121800, "to_add_2025": 121380,
    }  # fmt: skip
    assert c["slots_per_1000"] == {"value": 0.0223, "target": 5.0, "residents": 18827000}  # 420/18827
    assert c["puhui"] == {"slots": 150, "share": 0.3571, "target": None}  # 150/420


async def test_progress_by_year_is_each_years_statistics(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/progress")
    this_year = china_today().year
    assert (body["baseline_year"], body["years"]) == (2022, list(range(2023, this_year + 1)))
    assert [d["code"] for d in body["districts"]] == list(districts())
    # the city's slots from the 2022 baseline to each year's target (the annex's sums)
    assert [(y["year"], y["slots"]["target"], y["slots_per_1000"]["target"]) for y in body["city"]["years"][:3]] == [
        (2023, 70010, 4.0),
        (2024, 103360, 5.0),
        (2025, 121800, 5.8),
    ]
    assert {y["slots"]["baseline_2022"] for y in body["city"]["years"]} == {60336}
    # each year is that year's own statistics
    for n, year in enumerate(body["years"]):
        answer = await stats(scenario.client, f"/v1/stats/districts?year={year}")
        for area, row in zip([*body["districts"], body["city"]], [*answer["districts"], answer["city"]], strict=True):
            assert area["code"] == row["code"]
            assert {k: area["years"][n][k] for k in ("slots", "slots_per_1000", "puhui")} == {
                k: row[k] for k in ("slots", "slots_per_1000", "puhui")
            }, (year, area["code"])
    assert [y["slots"]["value"] for y in body["city"]["years"]][1:3] == [420, 265]  # as in 2024's and 2025's tests


async def test_annual_report_completion_is_for_the_reports_of_the_year(scenario: Scenario) -> None:
    # the 年报 of 2023 (filed by 31 March 2024) are the figures of 2023
    d = by_code(body := await stats(scenario.client, "/v1/stats/districts?year=2023"))
    common = {"report_year": 2023, "target": None}
    # 天河 owes 2023 reports from T1 (on time) and T3 (deregistered after the due day; overdue);
    # T2 was filed in 2024.
    assert d[TIANHE]["annual_reports"] == {
        **common, "expected": 2, "submitted": 1, "on_time": 1, "late": 0, "overdue": 1,
        "completion_rate": 0.5, "on_time_rate": 0.5,
    }  # fmt: skip
    # 越秀: T4 late; T5 filed in 2024 (Beijing) owes none.
    assert d[YUEXIU]["annual_reports"] == {
        **common, "expected": 1, "submitted": 1, "on_time": 0, "late": 1, "overdue": 0,
        "completion_rate": 1.0, "on_time_rate": 0.0,
    }  # fmt: skip
    # 从化: T8 on time, T9 nothing yet (not marked overdue either).
    assert d[CONGHUA]["annual_reports"] == {
        **common, "expected": 2, "submitted": 1, "on_time": 1, "late": 0, "overdue": 0,
        "completion_rate": 0.5, "on_time_rate": 0.5,
    }  # fmt: skip
    assert body["city"]["annual_reports"] == {
        **common, "expected": 5, "submitted": 3, "on_time": 2, "late": 1, "overdue": 1,
        "completion_rate": 0.6, "on_time_rate": 0.4,
    }  # fmt: skip


async def test_staff_certification_and_training_rates(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    d = by_code(body)
    roles0 = {"principal": 0, "carer": 0, "health": 0, "security": 0, "cook": 0, "other": 0}
    # 天河 on 2024-12-31: staff 1, 2, 3 (T1) and 5 (T2); 4 and 6 left. Certified: 1, 2, 5 (3's expired
    # on 2024-06-30). Trained (a 培训合格证): 2 and 5.
    assert d[TIANHE]["staff"] == {
        "active": 4, "by_role": {**roles0, "carer": 2, "principal": 1, "health": 1},
        "certified": 3, "trained": 2, "certified_rate": 0.75, "training_rate": 0.5,
    }  # fmt: skip
    # 越秀: staff 7; 8 starts in 2025.
    assert d[YUEXIU]["staff"] == {
        "active": 1, "by_role": {**roles0, "carer": 1},
        "certified": 1, "trained": 0, "certified_rate": 1.0, "training_rate": 0.0,
    }  # fmt: skip
    assert d[CONGHUA]["staff"] == {
        "active": 0, "by_role": roles0, "certified": 0, "trained": 0, "certified_rate": None, "training_rate": None,
    }  # fmt: skip
    assert body["city"]["staff"] == {
        "active": 5, "by_role": {**roles0, "carer": 3, "principal": 1, "health": 1},
        "certified": 4, "trained": 2, "certified_rate": 0.8, "training_rate": 0.4,
    }  # fmt: skip


async def test_inspection_coverage_violations_and_credit_mix(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2024")
    d = by_code(body)
    # inspected in 2024 (Beijing): T1, T5, T8, T9 (T3 too, but it is no longer filed). T4's
    # inspection on 2024-12-31 20:00Z is 2025 in Beijing; T2's is in 2025.
    assert d[TIANHE]["inspections"] == {"filed_institutions": 2, "inspected": 1, "coverage": 0.5}
    assert d[YUEXIU]["inspections"] == {"filed_institutions": 2, "inspected": 1, "coverage": 0.5}
    assert d[CONGHUA]["inspections"] == {"filed_institutions": 2, "inspected": 2, "coverage": 1.0}
    assert body["city"]["inspections"] == {"filed_institutions": 6, "inspected": 4, "coverage": 0.6667}
    # confirmed in 2024 (Beijing): T1 serious + minor (closed, still counted), T2 general, T3 critical
    # (counted in 天河 though deregistered later), T4 minor (2023 in UTC), T8 general. T5's serious is
    # 2025 in Beijing.
    assert d[TIANHE]["violations"] == {"minor": 1, "general": 1, "serious": 1, "critical": 1, "total": 4}
    assert d[YUEXIU]["violations"] == {"minor": 1, "general": 0, "serious": 0, "critical": 0, "total": 1}
    assert d[CONGHUA]["violations"] == {"minor": 0, "general": 1, "serious": 0, "critical": 0, "total": 1}
    assert body["city"]["violations"] == {"minor": 2, "general": 2, "serious": 1, "critical": 1, "total": 6}
    # grade in force at the end of 2024, filed institutions: T1 B (newest wins over the A that came
    # later), T2 ungraded (its C is 2025 in Beijing), T4 A, T5 ungraded, T8 B, T9 ungraded.
    assert d[TIANHE]["credit_grades"] == {"A": 0, "B": 1, "C": 0, "D": 0, "ungraded": 1}
    assert d[YUEXIU]["credit_grades"] == {"A": 1, "B": 0, "C": 0, "D": 0, "ungraded": 1}
    assert d[CONGHUA]["credit_grades"] == {"A": 0, "B": 1, "C": 0, "D": 0, "ungraded": 1}
    assert body["city"]["credit_grades"] == {"A": 1, "B": 2, "C": 0, "D": 0, "ungraded": 3}


async def test_street_coverage_2024(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/streets?year=2024")
    d = by_code(body)
    # streets with a filed 普惠 institution: 440106001 (T1), 440106002 (T2, 公建民营), 440104003 (T5),
    # 440117001 (T8), 440117002 (T9). 440104001 has only T4 without 普惠 slots.
    assert (d[TIANHE]["streets"], d[TIANHE]["covered"], d[TIANHE]["share"]) == (21, 2, 0.0952)
    assert (d[TIANHE]["public_private_covered"], d[TIANHE]["public_private_share"]) == (1, 0.0476)
    assert (d[YUEXIU]["streets"], d[YUEXIU]["covered"], d[YUEXIU]["share"]) == (18, 1, 0.0556)
    assert (d[CONGHUA]["streets"], d[CONGHUA]["covered"], d[CONGHUA]["share"]) == (10, 2, 0.2)
    assert (d["440111"]["covered"], d["440111"]["share"]) == (0, 0.0)
    c = body["city"]
    assert (c["streets"], c["covered"], c["share"], c["target"]) == (178, 5, 0.0281, None)
    assert (c["public_private_covered"], c["public_private_share"], c["public_private_target"]) == (1, 0.0056, 0.7)
    uncovered = {s["code"] for s in body["uncovered"]}
    assert len(uncovered) == 173
    assert "440104001" in uncovered
    assert "440117003" in uncovered
    assert not {"440106001", "440106002", "440104003", "440117001", "440117002"} & uncovered
    assert {"code": "440104001", "name": "洪桥街道", "district_code": "440104", "district_name": "越秀区"} in body[
        "uncovered"
    ]


async def test_2025_uses_the_profiles_and_targets_of_2025(scenario: Scenario) -> None:
    body = await stats(scenario.client, "/v1/stats/districts?year=2025")
    d = by_code(body)
    # 天河: T1 100/40 + T2 as changed on 2025-02-01 80/60. 越秀: T5 20/20 + T10 25/10 (T4 deregistered).
    assert d[TIANHE]["slots"] == {  # 180/17060
        "value": 180, "target": 17060, "progress": 0.0106, "gap": 16880,
        "baseline_2022": 6716, "planned_2025": 17060, "to_add_2025": 16880,
    }  # fmt: skip
    assert d[TIANHE]["puhui"] == {"slots": 100, "share": 0.5556, "target": None}  # ≥30 % is the city's target
    assert d[YUEXIU]["slots"] == {  # 45/8320
        "value": 45, "target": 8320, "progress": 0.0054, "gap": 8275,
        "baseline_2022": 3111, "planned_2025": 8320, "to_add_2025": 8275,
    }  # fmt: skip
    assert d[YUEXIU]["puhui"] == {"slots": 30, "share": 0.6667, "target": None}
    assert {(a["slots_per_1000"]["target"], a["puhui"]["target"]) for a in d.values()} == {(None, None)}
    c = body["city"]
    assert c["slots"] == {  # 265/121800
        "value": 265, "target": 121800, "progress": 0.0022, "gap": 121535,
        "baseline_2022": 60336, "planned_2025": 121800, "to_add_2025": 121535,
    }  # fmt: skip
    assert c["slots_per_1000"]["target"] == 5.8
    assert c["puhui"] == {"slots": 170, "share": 0.6415, "target": 0.3}  # 170/265
    # 2024 reports (the figures of 2024): owed by T1, T2, T4 (deregistered 2025-05-01, after the due
    # day), T5, T8, T9; only T2's is in.
    c24 = (await stats(scenario.client, "/v1/stats/districts?year=2024"))["city"]
    assert c24["annual_reports"]["report_year"] == 2024
    assert (c24["annual_reports"]["expected"], c24["annual_reports"]["submitted"]) == (6, 1)
    assert (c24["annual_reports"]["completion_rate"], c24["annual_reports"]["target"]) == (0.1667, None)
    # 2025 reports (due 31 March 2026) carry the plan's 100 %: owed by T1, T2, T5, T8, T9, T10 (T4 closed
    # before the due day); none is in
    ar = c["annual_reports"]
    assert (ar["report_year"], ar["expected"], ar["submitted"], ar["completion_rate"], ar["target"]) == (
        2025, 6, 0, 0.0, 1.0,
    )  # fmt: skip
    # per operating model: every profile of the story has two classes (班); the plan's 2025 targets
    models = {m["model"]: m for m in c["operating_models"]}
    assert sum(m["institutions"] for m in models.values()) == c["institutions"] == 6
    assert sum(m["classes"] for m in models.values()) == 2 * 6
    assert sum(m["slots"] for m in models.values()) == c["slots"]["value"]
    assert (models["kindergarten_class"]["classes_target"], models["kindergarten_class"]["slots_target"]) == (
        1000,
        20000,
    )
    assert (models["employer"]["added_institutions_target"], models["employer"]["added_slots_target"]) == (110, 6600)
    assert d[TIANHE]["operating_models"][3]["added_institutions_target"] == 10  # 每区至少10个
    # the grade in force at the end of 2025: T2's C now counts
    assert c["credit_grades"] == {"A": 0, "B": 2, "C": 1, "D": 0, "ungraded": 3}

    streets = await stats(scenario.client, "/v1/stats/streets?year=2025")
    s = streets["city"]
    # + 440104001 through T10 (公建民营, 普惠)
    assert (s["covered"], s["share"], s["target"]) == (6, 0.0337, 1.0)
    assert (s["public_private_covered"], s["public_private_share"], s["public_private_target"]) == (2, 0.0112, 1.0)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/stats/districts?year=2019", "year_out_of_range"),
        ("/v1/stats/districts?year=2100", "year_out_of_range"),
        ("/v1/stats/streets?year=1990", "year_out_of_range"),
        ("/v1/stats/districts?year=abc", None),
        ("/v1/stats/streets", None),
    ],
)
async def test_bad_year_is_a_422_naming_the_field(scenario: Scenario, path: str, code: str | None) -> None:
    response = await scenario.client.get(path)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "year"
    if code is not None:
        assert error["code"] == code


# --- the institution summary -----------------------------------------------------------------------


async def summary(client: httpx.AsyncClient, iid: uuid.UUID, query: str = "", **headers: str) -> httpx.Response:
    return await client.get(f"/v1/institutions/{iid}/summary{query}", headers=headers or OPS)


async def test_summary_of_a_filed_institution(scenario: Scenario) -> None:
    response = await summary(scenario.client, T1, "?report_year=2023")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "filed"
    assert (body["district_code"], body["street_code"], body["total_slots"], body["puhui_slots"]) == (
        TIANHE, "440106001", 100, 40,
    )  # fmt: skip
    # today: staff 1, 2, 3 are employed; 3's certificate expired in 2024; 2 holds a 培训合格证
    assert body["staff"]["active"] == 3
    assert body["staff"]["by_role"]["carer"] == 2
    assert body["staff"]["by_role"]["principal"] == 1
    assert (body["staff"]["certified"], body["staff"]["trained"]) == (2, 1)
    assert (body["staff"]["certified_rate"], body["staff"]["training_rate"]) == (0.6667, 0.3333)
    assert body["inspections"] == 1
    assert body["latest_inspection"]["task_id"] == str(task(1))
    assert body["latest_inspection"]["conclusion"] == "rectification_required"
    # two confirmed, the minor one closed: one open
    assert (body["violations"]["confirmed"], body["violations"]["open"]) == (2, 1)
    assert body["violations"]["open_by_severity"] == {"minor": 0, "general": 0, "serious": 1, "critical": 0}
    assert [v["violation_id"] for v in body["violations"]["open_items"]] == [str(violation_id(1))]
    assert body["credit_grade"]["grade"] == "B"
    assert body["annual_report"] == {"year": 2023, "status": "on_time", "submitted_at": "2024-03-01T02:00:00Z"}


async def test_summary_statuses_and_placeholders(scenario: Scenario) -> None:
    t3 = (await summary(scenario.client, T3, "?report_year=2023")).json()
    assert t3["status"] == "deregistered"
    assert t3["annual_report"]["status"] == "overdue"
    assert t3["violations"]["open_by_severity"]["critical"] == 1
    assert t3["credit_grade"]["grade"] == "D"

    t4 = (await summary(scenario.client, T4, "?report_year=2023")).json()
    assert t4["annual_report"]["status"] == "late"
    t9 = (await summary(scenario.client, T9, "?report_year=2023")).json()
    assert t9["annual_report"]["status"] == "pending"

    t6 = (await summary(scenario.client, T6)).json()  # submitted, not filed: the submitted profile
    assert (t6["status"], t6["total_slots"], t6["puhui_slots"], t6["credit_grade"]) == ("submitted", 40, 40, None)
    assert t6["annual_report"] == {"year": china_today().year - 1, "status": "not_due", "submitted_at": None}

    t7 = (await summary(scenario.client, T7)).json()  # only a grade is known about it
    assert (t7["status"], t7["name"], t7["total_slots"]) == ("unknown", None, None)
    assert t7["credit_grade"]["grade"] == "C"
    assert t7["staff"]["active"] == 0
    assert t7["latest_inspection"] is None


async def test_summary_access(scenario: Scenario) -> None:
    client = scenario.client
    assert (await client.get(f"/v1/institutions/{T1}/summary")).status_code == 401
    assert (await summary(client, T1, **token("filing_officer"))).status_code == 403
    no_grant = await summary(client, T1, **token("agency:nobody"))
    assert (no_grant.status_code, no_grant.json()["error"]["code"]) == (403, "no_data_sharing_grant")
    assert (await summary(client, T1, **token("agency:market_regulation"))).status_code == 200
    assert (await summary(client, T1, **token("supervisor"))).status_code == 200
    missing = await summary(client, uuid.uuid4())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "institution_not_found")
    bad = await client.get("/v1/institutions/not-a-uuid/summary", headers=OPS)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "institution_id")
    bad_year = await summary(client, T1, "?report_year=1999")
    assert (bad_year.status_code, bad_year.json()["error"]["field"]) == (422, "report_year")


# --- replay --------------------------------------------------------------------------------------


async def test_replay_into_an_empty_database_gives_the_same_statistics(scenario: Scenario) -> None:
    paths = [
        "/v1/stats/districts?year=2024",
        "/v1/stats/districts?year=2025",
        "/v1/stats/streets?year=2024",
        "/v1/stats/streets?year=2025",
    ]
    live = [await stats(scenario.client, p) for p in paths]
    live_summaries = [(await summary(scenario.client, i, "?report_year=2023")).json() for i in (T1, T2, T3, T7)]
    name = f"t_reporting_replay_{uuid.uuid4().hex[:8]}"
    url = scenario.pg.create_service_database(name, "reporting", template="tpl_reporting")
    try:
        db = Database(url, pool_size=2)
        try:
            settings = settings_for(
                "reporting", kafka_bootstrap_servers=scenario.kafka.bootstrap, kafka_namespace=scenario.namespace
            )
            assert isinstance(settings, ReportingSettings)
            result = await rebuild(db, settings)
            assert result.tree_size == len(scenario.events)
        finally:
            await db.dispose()
        async with Platform(scenario.kafka.bootstrap, scenario.namespace, {"reporting": url}) as replayed:
            client = replayed.clients["reporting"]
            assert [await stats(client, p) for p in paths] == live
            assert [(await summary(client, i, "?report_year=2023")).json() for i in (T1, T2, T3, T7)] == live_summaries
    finally:
        scenario.pg.drop_database(name)
