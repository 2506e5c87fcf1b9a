"""Annual reports (年报) against real PostgreSQL: submission and its event, every rejection, the
overdue sweep (exactly one event per institution-year, also under concurrent sweeps), late reports,
and the completion rates per district."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text, update

from services.filing.annual_reports import service
from services.filing.annual_reports.jobs import OVERDUE_GAUGE, jobs
from services.filing.annual_reports.models import AnnualReport, AnnualReportOverdue
from services.filing.models import Institution
from services.filing.settings import FilingSettings
from shared.auth import mint_token
from shared.db import Database
from shared.events import decode
from shared.events.filing import AnnualReportOverdueV1, AnnualReportSubmittedV1
from shared.outbox import Outbox, outbox_table
from shared.reference import districts
from shared.settings import ServiceSettings
from shared.workdays import CHINA, china_today
from tests.filing.support import insert_filed_institution
from tests.support import create_app, eventually, running, settings_for, token

TIANHE, YUEXIU = "440106", "440104"
STREETS = {TIANHE: "440106001", YUEXIU: "440104001"}
SUBMITTED_TYPE = "cn.gov.gz.childcare.filing.annual_report.submitted.v1"
OVERDUE_TYPE = "cn.gov.gz.childcare.filing.annual_report.overdue.v1"
SETTINGS = FilingSettings(environment="test")  # the report for Y is due on 31 March of Y+1


def officer(*district_values: str, roles: tuple[str, ...] = ("filing_officer",)) -> dict[str, str]:
    """A bearer header whose ``districts`` claim lists the districts the officer covers."""
    jwt = mint_token(
        ServiceSettings(environment="test"),
        subject="officer-tianhe-01",
        roles=list(roles),
        districts=list(district_values),
    )
    return {"Authorization": f"Bearer {jwt}"}


TIANHE_OFFICER = officer(TIANHE)


def report_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enrolment": [{"class_type": "toddler", "children": 12}, {"class_type": "older", "children": 18}],
        "staff": {"carers": 5, "health": 1, "principal": 1, "other": 2},
        "incidents": {"count": 1, "descriptions": ["幼儿户外活动时摔倒擦伤，已送医处理"]},
        "fees": {"monthly_fee_yuan": 3800, "puhui_monthly_fee_yuan": 2000},
    }
    body.update(overrides)
    return body


def report_input() -> service.ReportInput:
    return service.ReportInput(
        enrolment=[("toddler", 10)],
        staff={"carers": 3, "health": 1, "principal": 1, "other": 0},
        incidents=0,
        incident_descriptions=[],
        monthly_fee_yuan=3000,
        puhui_monthly_fee_yuan=None,
    )


def beijing(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


def chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


@pytest.fixture
async def filing(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database, FastAPI]]:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db, app


async def add_institution(db: Database, district: str = TIANHE, **overrides: Any) -> uuid.UUID:
    async with db.transaction() as session:
        return await insert_filed_institution(
            session, district_code=district, street_code=STREETS[district], **overrides
        )


async def events(db: Database, event_type: str) -> list[tuple[str, Any]]:
    """(Kafka key, decoded data) of every outbox row of this type, in write order."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(outbox_table.c.message_key, outbox_table.c.payload)
                .where(outbox_table.c.event_type == event_type)
                .order_by(outbox_table.c.id)
            )
        ).all()
    return [(r.message_key, decode(r.payload.encode()).data) for r in rows]


async def report_count(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(AnnualReport))).scalar_one())


async def sweep(db: Database, today: date) -> service.SweepResult:
    async with db.transaction() as session:
        return await service.sweep_overdue(session, Outbox(source="/services/filing"), today, SETTINGS)


# --- submission -------------------------------------------------------------------------------


async def test_valid_report_is_stored_with_its_event_and_is_on_time_before_the_due_date(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db)
    year = china_today().year  # this year's report is due next March: on time today, whatever today is

    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{year}", json=report_body(), headers=TIANHE_OFFICER
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/institutions/{institution_id}/annual-reports/{year}"
    assert body["on_time"] is True
    assert body["overdue_marked"] is False
    assert body["due_date"] == f"{year + 1}-03-31"
    assert body["enrolled_children"] == 30
    assert body["staff_count"] == 9
    assert body["incidents"] == {"count": 1, "descriptions": ["幼儿户外活动时摔倒擦伤，已送医处理"]}
    assert body["fees"] == {"monthly_fee_yuan": 3800, "puhui_monthly_fee_yuan": 2000}
    assert body["district_code"] == TIANHE

    submitted = await events(db, SUBMITTED_TYPE)
    assert len(submitted) == 1
    key, data = submitted[0]
    assert key == str(institution_id), "keyed by institution, so its history stays ordered"
    assert isinstance(data, AnnualReportSubmittedV1)
    assert (data.institution_id, data.year, data.on_time) == (institution_id, year, True)
    assert (data.enrolled_children, data.staff_count, data.incidents) == (30, 9, 1)

    fetched = await client.get(f"/v1/institutions/{institution_id}/annual-reports/{year}", headers=TIANHE_OFFICER)
    assert fetched.status_code == 200
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        (
            {"enrolment": [{"class_type": "toddler", "children": 20}, {"class_type": "older", "children": 16}]},
            "enrolment",
            "enrolment_exceeds_capacity",
        ),
        ({"enrolment": [{"class_type": "toddler", "children": -1}]}, "enrolment.0.children", "greater_than_equal"),
        ({"enrolment": [{"class_type": "baby", "children": 3}]}, "enrolment.0.class_type", "literal_error"),
        (
            {"enrolment": [{"class_type": "older", "children": 3}, {"class_type": "older", "children": 4}]},
            "enrolment",
            "duplicate_class_type",
        ),
        ({"staff": {"carers": -2, "health": 1, "principal": 1, "other": 0}}, "staff.carers", "greater_than_equal"),
        ({"staff": {"carers": 2, "health": 1, "principal": 1}}, "staff.other", "missing"),
        ({"incidents": {"count": -1}}, "incidents.count", "greater_than_equal"),
        ({"incidents": {"count": 10**12}}, "incidents.count", "less_than_equal"),
        (
            {"incidents": {"count": 1, "descriptions": ["擦伤", "烫伤"]}},
            "incidents.descriptions",
            "incident_descriptions_exceed_count",
        ),
        ({"fees": {"monthly_fee_yuan": -100}}, "fees.monthly_fee_yuan", "greater_than_equal"),
        (
            {"fees": {"monthly_fee_yuan": 2000, "puhui_monthly_fee_yuan": 2500}},
            "fees.puhui_monthly_fee_yuan",
            "puhui_fee_above_fee",
        ),
        ({"remarks": "无"}, "remarks", "extra_forbidden"),
    ],
)
async def test_bad_report_is_a_422_naming_field_and_reason_and_writes_nothing(
    filing: tuple[httpx.AsyncClient, Database, FastAPI], overrides: dict[str, Any], field: str, code: str
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db)  # 35 filed places
    year = china_today().year

    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{year}",
        json=report_body(**overrides),
        headers=TIANHE_OFFICER,
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert chinese(error["message"])
    assert await report_count(db) == 0
    assert await events(db, SUBMITTED_TYPE) == []


@pytest.mark.parametrize(
    ("year", "code"),
    [("2019", "year_out_of_range"), ("next", "year_out_of_range"), ("二〇二五", "int_parsing")],
)
async def test_a_year_before_2020_or_after_this_year_is_refused(
    filing: tuple[httpx.AsyncClient, Database, FastAPI], year: str, code: str
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db)
    path_year = str(china_today().year + 1) if year == "next" else year

    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{path_year}", json=report_body(), headers=TIANHE_OFFICER
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("year", code)
    assert chinese(error["message"])
    assert await report_count(db) == 0


async def test_unknown_institution_is_a_404(filing: tuple[httpx.AsyncClient, Database, FastAPI]) -> None:
    client, _, _ = filing
    response = await client.post(
        f"/v1/institutions/{uuid.uuid4()}/annual-reports/{china_today().year}",
        json=report_body(),
        headers=TIANHE_OFFICER,
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "institution_not_found"


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "submitted", "filed_at": None, "decided_at": None},
        {"status": "deregistered", "deregistered_at": datetime.now(UTC)},
    ],
)
async def test_only_a_filed_institution_reports(
    filing: tuple[httpx.AsyncClient, Database, FastAPI], overrides: dict[str, Any]
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db, **overrides)

    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{china_today().year}",
        json=report_body(),
        headers=TIANHE_OFFICER,
    )

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "institution_not_filed"
    assert await report_count(db) == 0


async def test_a_second_report_for_the_same_year_is_a_409_and_changes_nothing(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db)
    url = f"/v1/institutions/{institution_id}/annual-reports/{china_today().year}"
    first = await client.post(url, json=report_body(), headers=TIANHE_OFFICER)
    assert first.status_code == 201, first.text

    again = await client.post(
        url, json=report_body(enrolment=[{"class_type": "older", "children": 1}]), headers=TIANHE_OFFICER
    )

    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "annual_report_exists"
    assert len(await events(db, SUBMITTED_TYPE)) == 1
    stored = await client.get(url, headers=TIANHE_OFFICER)
    assert stored.json()["enrolled_children"] == 30, "the first report stands"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        (officer(YUEXIU), 403, "district_out_of_scope"),
        (officer(), 403, "district_out_of_scope"),
        (officer(TIANHE, roles=("supervisor",)), 403, "role_required"),
        (officer("越秀区", "天河区"), 201, None),
    ],
)
async def test_an_officer_reports_only_for_institutions_in_their_districts(
    filing: tuple[httpx.AsyncClient, Database, FastAPI], headers: dict[str, str], status: int, code: str | None
) -> None:
    client, db, _ = filing
    institution_id = await add_institution(db, TIANHE)

    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{china_today().year}", json=report_body(), headers=headers
    )

    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code
        assert await report_count(db) == 0


# --- the overdue sweep ------------------------------------------------------------------------


async def test_sweep_marks_each_missing_report_once_after_the_due_date_and_a_late_report_is_accepted(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
) -> None:
    client, db, _ = filing
    reported = await add_institution(db, filed_at=beijing(2024, 6, 1))
    missing = await add_institution(db, filed_at=beijing(2024, 6, 1))
    filed_new_years_eve = await add_institution(db, YUEXIU, filed_at=beijing(2024, 12, 31, 23, 30))
    filed_new_years_day = await add_institution(db, filed_at=beijing(2025, 1, 1, 0, 30))  # 2024-12-31 UTC
    await add_institution(db, status="submitted", filed_at=None, decided_at=None)
    await add_institution(db, status="deregistered", filed_at=beijing(2024, 3, 1), deregistered_at=beijing(2024, 9, 1))
    done = await client.post(
        f"/v1/institutions/{reported}/annual-reports/2024", json=report_body(), headers=TIANHE_OFFICER
    )
    assert done.status_code == 201, done.text

    on_due_date = await sweep(db, date(2025, 3, 31))
    assert on_due_date.marked == []
    assert await events(db, OVERDUE_TYPE) == [], "nothing is overdue on the due date itself"

    first = await sweep(db, date(2025, 4, 1))
    again = await sweep(db, date(2025, 4, 1))
    later = await sweep(db, date(2025, 6, 30))

    assert {(m.institution_id, m.year) for m in first.marked} == {(missing, 2024), (filed_new_years_eve, 2024)}
    assert again.marked == []
    assert later.marked == []
    assert later.outstanding == 2
    overdue = await events(db, OVERDUE_TYPE)
    assert sorted(str(data.institution_id) for _, data in overdue) == sorted([str(missing), str(filed_new_years_eve)])
    by_id = {data.institution_id: (key, data) for key, data in overdue}
    key, data = by_id[filed_new_years_eve]
    assert isinstance(data, AnnualReportOverdueV1)
    assert key == str(filed_new_years_eve)
    assert (data.year, data.due_date, data.district_code) == (2024, date(2025, 3, 31), YUEXIU)
    assert filed_new_years_day not in by_id, "filed in 2025 Beijing time: owes no 2024 report"

    late = await client.post(
        f"/v1/institutions/{missing}/annual-reports/2024", json=report_body(), headers=TIANHE_OFFICER
    )

    assert late.status_code == 201, late.text
    assert late.json()["on_time"] is False
    assert late.json()["overdue_marked"] is True
    submitted = {data.institution_id: data for _, data in await events(db, SUBMITTED_TYPE)}
    assert submitted[missing].on_time is False
    assert submitted[reported].year == 2024
    after = await sweep(db, date(2025, 7, 1))
    assert after.marked == []
    assert after.outstanding == 1, "the late report no longer counts as outstanding"
    assert len(await events(db, OVERDUE_TYPE)) == 2


async def test_the_periodic_job_sweeps_with_todays_date_and_sets_the_overdue_gauge(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False, sweep_interval_seconds=42), db)
    async with running(app) as client:
        last_year = china_today().year - 1
        await add_institution(db, filed_at=beijing(last_year, 2, 1))
        await add_institution(db, filed_at=beijing(last_year, 2, 1))
        job = next(j for j in jobs() if j.name == "annual_report_overdue_sweep")
        due = service.due_date(last_year, SETTINGS)
        expected = 2 if china_today() > due else 0  # last year's reports are overdue once March is over

        await job.run(app.state.context)
        await job.run(app.state.context)

        assert job.interval_seconds == 42, "the job runs at the service's configured interval"
        assert len(await events(db, OVERDUE_TYPE)) == expected
        exposition = (await client.get("/metrics")).text
        samples = {s.name: s.value for family in text_string_to_metric_families(exposition) for s in family.samples}
        assert samples[OVERDUE_GAUGE] == expected


async def test_concurrent_sweeps_emit_exactly_one_overdue_event_per_institution_and_year(
    fresh_db: Callable[[str], str],
) -> None:
    db = Database(fresh_db("filing"), pool_size=4)
    try:
        ids = [await add_institution(db, filed_at=beijing(2024, 5, 1)) for _ in range(3)]
        await add_institution(db, status="submitted", filed_at=None, decided_at=None)
        today = date(2025, 4, 2)

        # Two sweeps racing, each in its own transaction on its own connection.
        racing = await asyncio.gather(sweep(db, today), sweep(db, today))

        # And a sweep that provably overlaps: it blocks on the first one's uncommitted marks.
        newer = await add_institution(db, filed_at=beijing(2024, 7, 1))
        async with db.transaction() as holder:
            held = await service.sweep_overdue(holder, Outbox(source="/services/filing"), today, SETTINGS)
            blocked = asyncio.create_task(sweep(db, today))

            async def waiting_on_a_lock() -> bool:
                async with db.transaction() as probe:
                    waiting = await probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                    return bool(waiting.scalar_one())

            await eventually(waiting_on_a_lock)
        second = await blocked

        assert sorted(str(m.institution_id) for r in racing for m in r.marked) == sorted(map(str, ids))
        assert [m.institution_id for m in held.marked] == [newer]
        assert second.marked == []
        overdue = await events(db, OVERDUE_TYPE)
        assert sorted(str(data.institution_id) for _, data in overdue) == sorted(map(str, [*ids, newer]))
        async with db.transaction() as session:
            marks = (await session.execute(select(func.count()).select_from(AnnualReportOverdue))).scalar_one()
        assert marks == 4
    finally:
        await db.dispose()


# --- completion -------------------------------------------------------------------------------


async def test_completion_per_district_matches_hand_computed_rates(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
) -> None:
    client, db, app = filing
    outbox: Outbox = app.state.outbox

    async def submit(institution_id: uuid.UUID, district: str, at: datetime) -> None:
        async with db.transaction() as session:
            await service.submit_report(
                session,
                outbox,
                SETTINGS,
                institution_id=institution_id,
                year=2024,
                report=report_input(),
                officer="officer",
                officer_districts=(district,),
                now=at,
            )

    # 天河区: on time, late (after being marked), missing, closed after the due date, and two that
    # owe nothing (filed in 2025; closed before the due date).
    t_on_time = await add_institution(db, TIANHE, filed_at=beijing(2024, 1, 10))
    t_late = await add_institution(db, TIANHE, filed_at=beijing(2024, 2, 10))
    await add_institution(db, TIANHE, filed_at=beijing(2024, 3, 10))
    t_closed_after_due = await add_institution(db, TIANHE, filed_at=beijing(2024, 4, 10))
    await add_institution(db, TIANHE, filed_at=beijing(2025, 2, 1))
    await add_institution(
        db, TIANHE, status="deregistered", filed_at=beijing(2024, 5, 1), deregistered_at=beijing(2025, 2, 1)
    )
    # 越秀区: two on time, one missing, one never filed.
    y_on_time = [await add_institution(db, YUEXIU, filed_at=beijing(2024, 6, 1)) for _ in range(2)]
    await add_institution(db, YUEXIU, filed_at=beijing(2024, 6, 1))
    await add_institution(db, YUEXIU, status="returned", filed_at=None, decided_at=None)

    await submit(t_on_time, TIANHE, beijing(2025, 2, 1))
    for institution_id in y_on_time:
        await submit(institution_id, YUEXIU, beijing(2025, 3, 31, 23, 59))
    await sweep(db, date(2025, 4, 1))  # marks t_late, the 天河 missing one, t_closed_after_due, the 越秀 missing one
    await submit(t_late, TIANHE, beijing(2025, 5, 1))
    async with db.transaction() as session:
        await session.execute(
            update(Institution)
            .where(Institution.id == t_closed_after_due)
            .values(status="deregistered", deregistered_at=beijing(2025, 6, 1))
        )

    reader = token("supervisor")
    response = await client.get("/v1/annual-reports/completion?year=2024", headers=reader)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["year"], body["due_date"]) == (2024, "2025-03-31")
    rows = {r["district_code"]: r for r in body["districts"]}
    assert [r["district_code"] for r in body["districts"]] == list(districts())
    assert len(rows) == 11
    counts = ("expected", "submitted", "on_time", "late", "overdue", "completion_rate")
    assert [rows[TIANHE][k] for k in counts] == [4, 2, 1, 1, 2, 0.5]
    assert rows[TIANHE]["district_name"] == "天河区"
    assert [rows[YUEXIU][k] for k in counts] == [3, 2, 2, 0, 1, 0.6667]
    for code, row in rows.items():
        if code not in (TIANHE, YUEXIU):
            assert [row[k] for k in counts] == [0, 0, 0, 0, 0, None], code
    assert [body["total"][k] for k in counts] == [7, 4, 3, 1, 3, 0.5714]

    one = await client.get("/v1/annual-reports/completion?year=2024&district=天河区", headers=token("ops"))
    assert one.status_code == 200, one.text
    assert [r["district_code"] for r in one.json()["districts"]] == [TIANHE]
    assert one.json()["total"]["completion_rate"] == 0.5
    other_year = await client.get("/v1/annual-reports/completion?year=2023", headers=reader)
    assert other_year.json()["total"]["expected"] == 0


@pytest.mark.parametrize(
    ("query", "headers", "status", "field", "code"),
    [
        ("year=2019", token("supervisor"), 422, "year", "year_out_of_range"),
        ("", token("supervisor"), 422, "year", "missing"),
        ("year=2024&district=999999", token("supervisor"), 422, "district", "unknown_district"),
        ("year=2024", token("inspector"), 403, None, "role_required"),
    ],
)
async def test_completion_rejects_bad_queries_and_other_roles(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
    query: str,
    headers: dict[str, str],
    status: int,
    field: str | None,
    code: str,
) -> None:
    client, _, _ = filing
    response = await client.get(f"/v1/annual-reports/completion?{query}", headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error.get("field") == field


async def test_no_report_for_a_year_before_the_institution_was_filed(
    filing: tuple[httpx.AsyncClient, Database, FastAPI],
) -> None:
    client, db, _ = filing
    this_year = china_today().year
    institution_id = await add_institution(db, filed_at=beijing(this_year, 1, 2))
    response = await client.post(
        f"/v1/institutions/{institution_id}/annual-reports/{this_year - 1}", json=report_body(), headers=TIANHE_OFFICER
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "year_before_filing"
    assert response.json()["error"]["field"] == "year"
    assert await report_count(db) == 0
