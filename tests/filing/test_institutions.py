"""Institution filing against real PostgreSQL (migrated by Alembic), each test rolled back.

What a request writes, what a bad request does not write, and every lifecycle transition, legal and
illegal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from services.filing.models import Institution, InstitutionDecision
from shared.db import Database
from shared.events import CloudEvent, decode
from shared.outbox import outbox_table
from shared.workdays import WorkdayCalendar, china_today
from tests.filing.support import filing_body, make_uscc, upload_documents
from tests.support import create_app, running, settings_for, token

OFFICER = token("filing_officer", subject="officer-tianhe-01", districts=["440106"])
OTHER_DISTRICT = token("filing_officer", subject="officer-yuexiu-01", districts=["440104"])
# separation of duties: a filing submitted by OFFICER is decided by another officer of the district
DECIDER = token("filing_officer", subject="officer-tianhe-02", districts=["440106"])
SUPERVISOR = token("supervisor")


class Filing:
    def __init__(self, client: httpx.AsyncClient, db: Database, documents: dict[str, str]) -> None:
        self.client = client
        self.db = db
        self.documents = documents

    def body(self, **overrides: Any) -> dict[str, Any]:
        return {**filing_body(self.documents), **overrides}

    async def submit(self, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/institutions", json=self.body(**overrides), headers=OFFICER)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def decide(self, institution_id: str, decision: str, reason: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"/v1/institutions/{institution_id}/decision",
            json={"decision": decision, "reason": reason},
            headers=DECIDER,
        )

    async def filed(self, **overrides: Any) -> dict[str, Any]:
        created = await self.submit(**overrides)
        response = await self.decide(created["id"], "file")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def events(self) -> list[CloudEvent]:
        async with self.db.transaction() as session:
            rows = (await session.execute(select(outbox_table.c.payload).order_by(outbox_table.c.id))).all()
        return [decode(r.payload.encode()).envelope for r in rows]

    async def event_types(self) -> list[str]:
        return [e.type.split("childcare.filing.")[1] for e in await self.events()]

    async def counts(self) -> tuple[int, int]:
        async with self.db.transaction() as session:
            institutions = (await session.execute(select(func.count()).select_from(Institution))).scalar_one()
            events = (await session.execute(select(func.count()).select_from(outbox_table))).scalar_one()
        return institutions, events


@pytest.fixture
async def filing(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Filing]:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        yield Filing(client, db, await upload_documents(client, OFFICER))


# --- submission ----------------------------------------------------------------------------------


async def test_submission_stores_the_profile_and_its_event_together(filing: Filing) -> None:
    body = await filing.submit()
    assert body["status"] == "submitted"
    assert body["status_zh"] == "已提交待审核"
    assert body["district_code"] == "440106"
    assert body["district_name"] == "天河区"
    assert body["street_name"]
    assert body["total_slots"] == 35
    assert body["operating_model_zh"] == "民办"
    assert [c["class_type_zh"] for c in body["classes"]] == ["托小班", "托大班"]
    expected_due = WorkdayCalendar().add_working_days(china_today(), 5).due
    assert body["decision_due"] == expected_due.isoformat()

    events = await filing.events()
    assert [e.type for e in events] == ["cn.gov.gz.childcare.filing.institution.submitted.v1"]
    event = events[0]
    assert event.subject == body["id"]
    assert event.data["profile"]["total_slots"] == 35
    assert event.data["decision_due"] == expected_due.isoformat()
    CloudEvent.model_validate(json.loads(event.to_json()))

    fetched = await filing.client.get(f"/v1/institutions/{body['id']}", headers=SUPERVISOR)
    assert fetched.status_code == 200
    assert fetched.json()["uscc"] == body["uscc"]


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"uscc": make_uscc(7)[:-1] + ("0" if make_uscc(7)[-1] != "0" else "1")}, "uscc", "uscc_checksum"),
    ({"uscc": "91440106MA1234"}, "uscc", "uscc_length"),
    ({"uscc": "91440106MA12345IO0"}, "uscc", "uscc_charset"),
    ({"district": "深圳市南山区"}, "district", "unknown_district"),
    ({"street_code": "440999001"}, "street_code", "unknown_street"),
    ({"street_code": "440104001"}, "street_code", "street_not_in_district"),
    ({"puhui_slots": 36}, "puhui_slots", "puhui_exceeds_total"),
    ({"classes": [{"class_type": "toddler", "size": 16}]}, "classes.0.size", "class_size_exceeded"),
    ({"classes": [{"class_type": "infant", "size": 11}]}, "classes.0.size", "class_size_exceeded"),
    ({"classes": [{"class_type": "older", "size": 21}]}, "classes.0.size", "class_size_exceeded"),
    ({"classes": [{"class_type": "mixed", "size": 19}]}, "classes.0.size", "class_size_exceeded"),
    ({"classes": [{"class_type": "nursery", "size": 5}]}, "classes.0.class_type", "literal_error"),
    ({"classes": []}, "classes", "too_short"),
    ({"latitude": 39.9}, "latitude", "coordinates_outside_guangzhou"),
    ({"longitude": 116.4}, "longitude", "coordinates_outside_guangzhou"),
    ({"premises_area_m2": 0}, "premises_area_m2", "greater_than"),
    ({"operating_model": "franchise"}, "operating_model", "literal_error"),
    ({"service_types": []}, "service_types", "too_short"),
    ({"service_types": ["full_day", "full_day"]}, "service_types", "duplicate_values"),
    ({"monthly_fee_yuan": -1}, "monthly_fee_yuan", "greater_than_equal"),
    ({"name": "x"}, "name", "string_too_short"),
    ({"meals": "sometimes"}, "meals", "bool_parsing"),
    ({"extra": "field"}, "extra", "extra_forbidden"),
    (
        {"operating_model": "family", "classes": [{"class_type": "mixed", "size": 6}], "puhui_slots": 0},
        "classes",
        "family_capacity_exceeded",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "code"), BAD_INPUT)
async def test_bad_input_is_a_422_naming_field_and_reason_and_writes_nothing(
    filing: Filing, overrides: dict[str, Any], field: str, code: str
) -> None:
    response = await filing.client.post("/v1/institutions", json=filing.body(**overrides), headers=OFFICER)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), "people get a Chinese message"
    assert await filing.counts() == (0, 0)


async def test_required_documents_are_checked(filing: Filing) -> None:
    without_food = {k: v for k, v in filing.documents.items() if k != "food_licence"}
    missing = await filing.client.post("/v1/institutions", json=filing.body(documents=without_food), headers=OFFICER)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "documents_incomplete"
    assert missing.json()["error"]["field"] == "documents.food_licence"
    # without meals no food licence is needed
    ok = await filing.client.post(
        "/v1/institutions", json=filing.body(documents=without_food, meals=False), headers=OFFICER
    )
    assert ok.status_code == 201, ok.text
    unknown = {**filing.documents, "fire_safety": "0" * 64}
    not_uploaded = await filing.client.post("/v1/institutions", json=filing.body(documents=unknown), headers=OFFICER)
    assert not_uploaded.status_code == 404
    assert not_uploaded.json()["error"]["code"] == "document_not_found"
    assert not_uploaded.json()["error"]["field"] == "documents.fire_safety"


async def test_documents_are_content_addressed_with_type_and_size_limits(filing: Filing) -> None:
    client = filing.client
    first = await client.post(
        "/v1/documents", content=b"%PDF-1.7 same\n%%EOF\n", headers={**OFFICER, "Content-Type": "application/pdf"}
    )
    again = await client.post(
        "/v1/documents", content=b"%PDF-1.7 same\n%%EOF\n", headers={**OFFICER, "Content-Type": "application/pdf"}
    )
    assert first.status_code == again.status_code == 201
    assert (
        first.json()["sha256"]
        == again.json()["sha256"]
        == (
            "d7d3f8c8d1d0b4ab1fbc0cba4a2f4b2bb2b5fa1e1e0c0cc3c1b5c0c5b2d5a5c5"
            if False
            else __import__("hashlib").sha256(b"%PDF-1.7 same\n%%EOF\n").hexdigest()
        )
    )
    download = await client.get(f"/v1/documents/{first.json()['sha256']}", headers=OFFICER)
    assert download.content == b"%PDF-1.7 same\n%%EOF\n"

    exe = await client.post(
        "/v1/documents", content=b"MZ\x90", headers={**OFFICER, "Content-Type": "application/x-msdownload"}
    )
    assert exe.status_code == 415
    assert exe.json()["error"]["code"] == "unsupported_media_type"
    lying = await client.post(
        "/v1/documents", content=b"MZ\x90", headers={**OFFICER, "Content-Type": "application/pdf"}
    )
    assert lying.status_code == 422
    assert lying.json()["error"]["code"] == "content_type_mismatch"
    big = await client.post(
        "/v1/documents",
        content=b"%PDF-" + b"0" * (10 * 1024 * 1024),
        headers={**OFFICER, "Content-Type": "application/pdf"},
    )
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "payload_too_large"


async def test_malformed_json_is_a_422_not_a_500(filing: Filing) -> None:
    response = await filing.client.post(
        "/v1/institutions", content=b'{"uscc": "91440106', headers={**OFFICER, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "json_invalid"
    assert await filing.counts() == (0, 0)


async def test_second_filing_of_same_code_is_a_conflict(filing: Filing) -> None:
    first = await filing.submit()
    again = await filing.client.post(
        "/v1/institutions", json=filing.body(uscc=first["uscc"], name="另一个名字托育园"), headers=OFFICER
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "uscc_already_filed"
    assert again.json()["error"]["field"] == "uscc"
    assert await filing.counts() == (1, 1)


async def test_officers_act_only_in_their_own_district(filing: Filing) -> None:
    outside = await filing.client.post("/v1/institutions", json=filing.body(), headers=OTHER_DISTRICT)
    assert outside.status_code == 403
    assert outside.json()["error"]["code"] == "district_out_of_scope"
    created = await filing.submit()
    decide = await filing.client.post(
        f"/v1/institutions/{created['id']}/decision", json={"decision": "file"}, headers=OTHER_DISTRICT
    )
    assert decide.status_code == 403
    assert await filing.counts() == (1, 1)


async def test_auth_is_required_and_roles_are_enforced(filing: Filing) -> None:
    anonymous = await filing.client.post("/v1/institutions", json=filing.body())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "token_missing"
    forged = await filing.client.post(
        "/v1/institutions", json=filing.body(), headers={"Authorization": "Bearer not.a.token"}
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "token_invalid"
    inspector = await filing.client.post("/v1/institutions", json=filing.body(), headers=token("inspector"))
    assert inspector.status_code == 403
    assert inspector.json()["error"]["code"] == "role_required"
    assert await filing.counts() == (0, 0)


async def test_unknown_institution_is_a_404(filing: Filing) -> None:
    response = await filing.client.get("/v1/institutions/00000000-0000-0000-0000-000000000000", headers=OFFICER)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "institution_not_found"
    not_uuid = await filing.client.get("/v1/institutions/abc", headers=OFFICER)
    assert not_uuid.status_code == 422
    assert not_uuid.json()["error"]["field"] == "institution_id"


# --- lifecycle -----------------------------------------------------------------------------------


async def test_file_decision_makes_it_filed_with_an_audit_trail(filing: Filing) -> None:
    created = await filing.submit()
    response = await filing.decide(created["id"], "file")
    assert response.status_code == 200
    assert response.json()["status"] == "filed"
    assert response.json()["filed_at"]
    assert await filing.event_types() == ["institution.submitted.v1", "institution.filed.v1"]
    filed_event = (await filing.events())[1]
    assert filed_event.data["decided_by"] == "officer-tianhe-02"  # the decider, not the submitter
    assert filed_event.data["profile"]["uscc"] == created["uscc"]
    async with filing.db.transaction() as session:
        decision = (await session.execute(select(InstitutionDecision))).scalar_one()
    assert (decision.decision, decision.on_time) == ("file", True)


async def test_return_then_resubmit_restarts_the_clock_then_file(filing: Filing) -> None:
    created = await filing.submit()
    no_reason = await filing.decide(created["id"], "return")
    assert no_reason.status_code == 422
    assert no_reason.json()["error"] == {
        "code": "reason_required",
        "message": "退回补正或不予备案必须说明理由",
        "field": "reason",
        "errors": [{"field": "reason", "code": "reason_required", "message": "退回补正或不予备案必须说明理由"}],
    }
    returned = await filing.decide(created["id"], "return", "消防安全检查合格证明已过期")
    assert returned.status_code == 200
    assert returned.json()["status"] == "returned"

    async with filing.db.transaction() as session:
        await session.execute(
            update(Institution)
            .where(Institution.id == created["id"])
            .values(decision_due=date(2020, 1, 1))  # as if the first clock had long run out
        )
    resubmitted = await filing.client.put(
        f"/v1/institutions/{created['id']}",
        json=filing.body(uscc=created["uscc"], address="天河路200号"),
        headers=OFFICER,
    )
    assert resubmitted.status_code == 200, resubmitted.text
    assert resubmitted.json()["status"] == "submitted"
    assert resubmitted.json()["submission"] == 2
    assert resubmitted.json()["address"] == "天河路200号"
    assert resubmitted.json()["decision_due"] == WorkdayCalendar().add_working_days(china_today(), 5).due.isoformat()

    filed = await filing.decide(created["id"], "file")
    assert filed.json()["status"] == "filed"
    assert await filing.event_types() == [
        "institution.submitted.v1",
        "institution.returned.v1",
        "institution.submitted.v1",
        "institution.filed.v1",
    ]
    assert (await filing.events())[2].data["submission"] == 2


async def test_reject_is_final(filing: Filing) -> None:
    created = await filing.submit()
    rejected = await filing.decide(created["id"], "reject", "场地不符合要求")
    assert rejected.json()["status"] == "rejected"
    for attempt in (
        filing.decide(created["id"], "file"),
        filing.client.put(f"/v1/institutions/{created['id']}", json=filing.body(uscc=created["uscc"]), headers=OFFICER),
        filing.client.post(
            f"/v1/institutions/{created['id']}/deregistration", json={"reason": "关停"}, headers=OFFICER
        ),
        filing.client.post(f"/v1/institutions/{created['id']}/changes", json={"name": "新名字托育"}, headers=OFFICER),
    ):
        response = await attempt
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "illegal_transition"
        assert "不予备案" in response.json()["error"]["message"]
    assert await filing.event_types() == ["institution.submitted.v1", "institution.rejected.v1"]


async def test_illegal_transitions_are_409_with_reason(filing: Filing) -> None:
    submitted = await filing.submit()
    # resubmitting something that was not returned
    put = await filing.client.put(
        f"/v1/institutions/{submitted['id']}", json=filing.body(uscc=submitted["uscc"]), headers=OFFICER
    )
    assert put.status_code == 409
    assert "已提交待审核" in put.json()["error"]["message"]
    # deregistering something never filed
    dereg = await filing.client.post(
        f"/v1/institutions/{submitted['id']}/deregistration", json={"reason": "停办"}, headers=OFFICER
    )
    assert dereg.status_code == 409
    filed = await filing.filed(uscc=make_uscc())
    second = await filing.decide(filed["id"], "file")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "illegal_transition"


async def test_minor_change_applies_at_once(filing: Filing) -> None:
    filed = await filing.filed()
    response = await filing.client.post(
        f"/v1/institutions/{filed['id']}/changes",
        json={"name": "天河区小树苗托育中心（新）", "monthly_fee_yuan": 3600},
        headers=OFFICER,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["applied_fields"] == ["monthly_fee_yuan", "name"]
    assert result["pending_change"] is None
    assert result["institution"]["name"] == "天河区小树苗托育中心（新）"
    changed = (await filing.events())[-1]
    assert changed.type.endswith("institution.changed.v1")
    assert changed.data["changed_fields"] == ["monthly_fee_yuan", "name"]
    assert changed.data["profile"]["monthly_fee_yuan"] == 3600


async def test_key_change_waits_for_a_decision_while_filed_values_stay(filing: Filing) -> None:
    filed = await filing.filed()
    classes = [{"class_type": "older", "size": 20}, {"class_type": "older", "size": 20}]
    response = await filing.client.post(
        f"/v1/institutions/{filed['id']}/changes",
        json={"classes": classes, "address": "天河路300号", "name": "小树苗托育（天河）"},
        headers=OFFICER,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["applied_fields"] == ["name"]
    pending = result["pending_change"]
    assert sorted(pending["changes"]) == ["address", "classes", "total_slots"]
    assert result["institution"]["total_slots"] == 35, "the filed capacity stays in force"
    assert result["institution"]["address"] == "天河路100号2楼"

    second = await filing.client.post(
        f"/v1/institutions/{filed['id']}/changes", json={"address": "别处1号"}, headers=OFFICER
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "change_pending"

    approved = await filing.decide(filed["id"], "file")
    assert approved.status_code == 200
    assert approved.json()["total_slots"] == 40
    assert approved.json()["address"] == "天河路300号"
    assert approved.json()["pending_change"] is None
    assert await filing.event_types() == [
        "institution.submitted.v1",
        "institution.filed.v1",
        "institution.changed.v1",
        "institution.change_requested.v1",
        "institution.changed.v1",
    ]


async def test_refused_key_change_leaves_the_filing_as_it_was(filing: Filing) -> None:
    filed = await filing.filed()
    await filing.client.post(f"/v1/institutions/{filed['id']}/changes", json={"puhui_slots": 35}, headers=OFFICER)
    refused = await filing.decide(filed["id"], "reject", "普惠托位未经核定")
    assert refused.status_code == 200
    assert refused.json()["puhui_slots"] == 20
    assert refused.json()["status"] == "filed"
    last = (await filing.events())[-1]
    assert last.type.endswith("institution.change_refused.v1")
    assert last.data["outcome"] == "rejected"


async def test_change_validation(filing: Filing) -> None:
    filed = await filing.filed()
    url = f"/v1/institutions/{filed['id']}/changes"
    too_many = await filing.client.post(url, json={"puhui_slots": 36}, headers=OFFICER)
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (422, "puhui_exceeds_total")
    same = await filing.client.post(url, json={"name": filed["name"]}, headers=OFFICER)
    assert (same.status_code, same.json()["error"]["code"]) == (422, "no_changes")
    wrong_street = await filing.client.post(url, json={"street_code": "440104001"}, headers=OFFICER)
    assert (wrong_street.status_code, wrong_street.json()["error"]["code"]) == (422, "street_not_in_district")
    null_name = await filing.client.post(url, json={"name": None}, headers=OFFICER)
    assert (null_name.status_code, null_name.json()["error"]["field"]) == (422, "name")


async def test_deregistration(filing: Filing) -> None:
    filed = await filing.filed()
    response = await filing.client.post(
        f"/v1/institutions/{filed['id']}/deregistration", json={"reason": "举办者申请停办"}, headers=OFFICER
    )
    assert response.status_code == 200
    assert response.json()["status"] == "deregistered"
    assert (await filing.events())[-1].data["reason"] == "举办者申请停办"
    again = await filing.client.post(
        f"/v1/institutions/{filed['id']}/deregistration", json={"reason": "再次注销"}, headers=OFFICER
    )
    assert again.status_code == 409


async def test_work_queue_lists_own_district_by_due_date(filing: Filing) -> None:
    await filing.submit()
    await filing.submit(uscc=make_uscc())
    mine = await filing.client.get("/v1/institutions?status=submitted", headers=OFFICER)
    assert mine.json()["total"] == 2
    theirs = await filing.client.get("/v1/institutions?status=submitted", headers=OTHER_DISTRICT)
    assert theirs.json()["total"] == 0
    city = await filing.client.get("/v1/institutions", headers=SUPERVISOR)
    assert city.json()["total"] == 2


async def test_decision_deadline_counts_chinese_working_days(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    """Submitted Wed 2026-09-30, the eve of National Day: Oct 1-7 are off and Sat Oct 10 is a make-up
    working day, so the 5th working day is Tue Oct 13 (Oct 8, 9, 10, 12, 13)."""
    from services.filing.institutions import repository, service
    from services.filing.institutions.schemas import InstitutionCreate
    from shared.auth import Principal
    from shared.outbox import Outbox

    db = await rollback_db("filing")
    officer = Principal(subject="o", roles=frozenset({"filing_officer"}), districts=("440106",))
    rules = service.FilingRules(calendar=WorkdayCalendar(), today=lambda: date(2026, 9, 30))
    async with db.transaction() as session:
        documents = {}
        for kind in ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"):
            documents[kind] = hashlib.sha256(kind.encode()).hexdigest()
            await repository.store_document(
                session, sha256=documents[kind], media_type="application/pdf", content=kind.encode(), uploaded_by="o"
            )
        body = filing_body(documents)
        institution = await service.submit(
            session, Outbox(source="/services/filing"), rules, InstitutionCreate.model_validate(body), officer=officer
        )
        assert institution.decision_due == date(2026, 10, 13)
        assert institution.decision_due_provisional is False

        # in December 2026 the deadline runs into 2027, which the calendar library does not know yet
        december = service.FilingRules(
            calendar=WorkdayCalendar(extra_holidays=[date(2027, 1, 1)]), today=lambda: date(2026, 12, 29)
        )
        late = await service.submit(
            session,
            Outbox(source="/services/filing"),
            december,
            InstitutionCreate.model_validate(filing_body(documents, uscc=make_uscc())),
            officer=officer,
        )
        assert late.decision_due == date(2027, 1, 6)
        assert late.decision_due_provisional is True


async def test_late_decisions_are_recorded_and_overdue_ones_measured(filing: Filing) -> None:
    from services.filing.institutions.jobs import measure_overdue_decisions
    from shared.app import ServiceContext

    late = await filing.submit()
    waiting = await filing.submit(uscc=make_uscc())
    async with filing.db.transaction() as session:
        await session.execute(
            update(Institution)
            .where(Institution.id.in_([late["id"], waiting["id"]]))
            .values(decision_due=date(2026, 1, 5))
        )
    app_state = filing.client._transport.app.state  # type: ignore[attr-defined]
    context: ServiceContext = app_state.context
    await measure_overdue_decisions(context)
    assert "childcare_filing_decisions_overdue 2.0" in context.metrics.exposition().decode()

    decided = await filing.decide(late["id"], "file")
    assert decided.status_code == 200
    async with filing.db.transaction() as session:
        decision = (await session.execute(select(InstitutionDecision))).scalar_one()
    assert decision.on_time is False
    await measure_overdue_decisions(context)
    assert "childcare_filing_decisions_overdue 1.0" in context.metrics.exposition().decode()
    assert 'childcare_filing_decisions_total{decision="file"} 1.0' in context.metrics.exposition().decode()


async def test_approved_class_change_rechecks_staffing(filing: Filing) -> None:
    from tests.filing.test_staff import hire_body, new_id

    filed = await filing.filed(classes=[{"class_type": "toddler", "size": 5}], puhui_slots=0)
    for role in ("principal", "health", "carer"):
        hired = await filing.client.post(
            f"/v1/institutions/{filed['id']}/staff", json=hire_body(new_id(), role=role), headers=OFFICER
        )
        assert hired.status_code == 201, hired.text
    staffing = await filing.client.get(f"/v1/institutions/{filed['id']}/staffing", headers=OFFICER)
    assert staffing.json()["shortfalls"] == []

    await filing.client.post(
        f"/v1/institutions/{filed['id']}/changes",
        json={"classes": [{"class_type": "toddler", "size": 15}]},
        headers=OFFICER,
    )
    assert (await filing.event_types())[-1] == "institution.change_requested.v1", "nothing re-checked before approval"
    await filing.decide(filed["id"], "file")
    flagged = (await filing.events())[-1]
    assert flagged.type.endswith("staffing.shortfall_flagged.v1")
    assert flagged.data["shortfalls"] == [
        {"code": "carer_ratio", "detail": flagged.data["shortfalls"][0]["detail"], "required": 3, "actual": 1}
    ]
