"""The credit service's work queues (shared.work) against real PostgreSQL: pending repairs, new list
entries and bans within the look-back, each in the institution's district (a person's ban: the
district of the institution where its cause happened), credit officers and supervisors seeing them,
other roles refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.credit.models import CreditEntry, CreditListMembership, CreditRepair, CreditSubject
from shared.db import Database
from tests.support import create_app, running, settings_for, token

TIANHE, YUEXIU = "440106", "440104"
NOW = datetime.now(UTC)
CREDIT = token("credit_officer", subject="work-credit")
CITY = token("supervisor", subject="work-supervisor")
TIANHE_SUPERVISOR = token("supervisor", subject="work-supervisor-th", districts=[TIANHE])
YUEXIU_SUPERVISOR = token("supervisor", subject="work-supervisor-yx", districts=[YUEXIU])
INSPECTOR = token("inspector", subject="work-inspector")


@pytest.fixture
async def credit(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    db = await rollback_db("credit")
    app: FastAPI = create_app("credit", settings_for("credit", run_background_workers=False), db)
    async with running(app) as client:
        yield client, db


def subject(kind: str, name: str, district: str | None) -> CreditSubject:
    return CreditSubject(
        subject_kind=kind,
        subject_id=str(uuid.uuid4()) if kind == "institution" else uuid.uuid4().hex,
        display_name=name,
        district_code=district,
        opened_at=NOW,
        opened_by_event_id=str(uuid.uuid4()),
    )


def entry(s: CreditSubject, source_key: str) -> CreditEntry:
    return CreditEntry(
        id=uuid.uuid4(),
        subject_kind=s.subject_kind,
        subject_id=s.subject_id,
        rule_id="child_abuse",
        source_key=source_key,
        source_event_id=str(uuid.uuid4()),
        source_event_type="test",
        effective_from=NOW,
        detail_zh="测试",
        recorded_at=NOW,
    )


def membership(
    s: CreditSubject, list_name: str, entered_at: datetime, left: bool = False, causes: list[str] | None = None
) -> CreditListMembership:
    return CreditListMembership(
        list_name=list_name,
        subject_kind=s.subject_kind,
        subject_id=s.subject_id,
        reason="虐待儿童",
        legal_basis="测试依据",
        entered_at=entered_at,
        cause_entry_ids=causes or [],
        left_at=NOW if left else None,
    )


async def queue(client: httpx.AsyncClient, name: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v1/work/queues/{name}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_credit_queues_scope_and_roles(credit: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = credit
    tianhe = subject("institution", "天河信用托育", TIANHE)
    yuexiu = subject("institution", "越秀信用托育", YUEXIU)
    person = subject("person", "演示某人", None)
    pending = CreditRepair(
        entry_id=uuid.uuid4(),
        subject_kind="institution",
        subject_id=tianhe.subject_id,
        status="pending",
        evidence_sha256=[],
        commitment_zh="承诺",
        applied_by="credit-a",
        applied_at=NOW - timedelta(days=3),
    )
    decided = CreditRepair(
        entry_id=uuid.uuid4(),
        subject_kind="institution",
        subject_id=yuexiu.subject_id,
        status="approved",
        evidence_sha256=[],
        commitment_zh="承诺",
        applied_by="credit-a",
        applied_at=NOW,
    )
    async with db.transaction() as session:
        session.add_all([tianhe, yuexiu, person, pending, decided])
        recent = membership(yuexiu, "serious_dishonesty", NOW - timedelta(days=2))
        old = membership(tianhe, "serious_dishonesty", NOW - timedelta(days=60))
        gone = membership(tianhe, "serious_dishonesty", NOW - timedelta(days=1), left=True)
        # the abuse confirmed at 天河's institution: one fact, an entry for the institution and one for the person
        violation = f"violation:{uuid.uuid4()}"
        at_institution, of_person = entry(tianhe, violation), entry(person, violation)
        unrelated = entry(yuexiu, "annual_report:2024")
        session.add_all([at_institution, of_person, unrelated])
        ban = membership(person, "industry_ban", NOW - timedelta(days=1), causes=[str(of_person.id)])
        session.add_all([recent, old, gone, ban])
        await session.flush()

    repairs = await queue(client, "repairs_pending", CREDIT)
    assert ids(repairs) == [str(pending.id)]
    [item] = repairs["items"]
    assert item["institution"] == {"id": tianhe.subject_id, "name": "天河信用托育"}
    assert item["district"] == {"code": TIANHE, "name": "天河区"}
    assert item["deadline"] is None
    assert item["days_overdue"] is None
    assert item["action"] == {"code": "decide_repair", "label_zh": "作出信用修复决定", "role": "credit_officer"}
    assert item["link"] == f"/v1/credit/repairs/{pending.id}"
    assert ids(await queue(client, "repairs_pending", TIANHE_SUPERVISOR)) == [str(pending.id)]
    assert (await queue(client, "repairs_pending", YUEXIU_SUPERVISOR))["total"] == 0

    entries = await queue(client, "list_entries_new", CITY)
    assert ids(entries) == [str(recent.id)]  # the old one is past the 30 days, the other has left the list
    assert "严重失信主体名单" in entries["items"][0]["title_zh"]
    assert ids(await queue(client, "list_entries_new", CITY, days=90)) == [str(old.id), str(recent.id)]
    assert (await queue(client, "list_entries_new", TIANHE_SUPERVISOR))["total"] == 0
    assert ids(await queue(client, "list_entries_new", YUEXIU_SUPERVISOR)) == [str(recent.id)]

    bans = await queue(client, "bans_new", CREDIT)
    assert ids(bans) == [str(ban.id)]
    assert bans["items"][0]["institution"] == {"id": tianhe.subject_id, "name": "天河信用托育"}
    assert bans["items"][0]["district"] == {"code": TIANHE, "name": "天河区"}
    assert "演示某人" not in bans["items"][0]["title_zh"]  # a person is not named in the list of work
    # the ban is 天河's (where the abuse happened), not 越秀's
    assert ids(await queue(client, "bans_new", TIANHE_SUPERVISOR)) == [str(ban.id)]
    assert (await queue(client, "bans_new", YUEXIU_SUPERVISOR))["total"] == 0

    refused = await client.get("/v1/work/queues/repairs_pending", headers=INSPECTOR)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "role_required"
    for headers in (CREDIT, CITY, TIANHE_SUPERVISOR):
        summary = (await client.get("/v1/work/summary", headers=headers)).json()
        assert [q["queue"] for q in summary["queues"]] == ["repairs_pending", "list_entries_new", "bans_new"]
        for q in summary["queues"]:
            assert q["count"] == (await queue(client, q["queue"], headers))["total"]
