"""Helpers for credit-service tests: a controllable clock, the credit app on the real broker, and
events produced onto the real topics exactly as the other services' outbox relays would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from services.credit.app import create_app
from shared.app import ServiceContext
from shared.db import Database
from shared.events import DecodedEvent, EventData, decode
from shared.events.filing import AnnualReportOverdueV1, InstitutionSubmittedV1
from shared.events.inspection import (
    InspectionResultPublishedV1,
    ViolationClosedV1,
    ViolationConfirmedV1,
    ViolationEscalatedV1,
)
from shared.outbox import Outbox, outbox_table
from tests.filing.support import make_uscc
from tests.support import eventually, produce_raw, running, settings_for

T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # noon in Beijing


class Clock:
    """The credit service's ``now()``; tests move it instead of waiting."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@dataclass
class Credit:
    client: httpx.AsyncClient
    app: FastAPI
    db: Database
    namespace: str
    bootstrap: str

    @property
    def ctx(self) -> ServiceContext:
        ctx: ServiceContext = self.app.state.context
        return ctx

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.transaction() as session:
            return (await session.execute(text(sql), params)).scalar_one()

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self.db.transaction() as session:
            return [tuple(r) for r in (await session.execute(text(sql), params)).all()]

    async def processed(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM inbox WHERE consumer = 'credit'"))

    async def emitted(self) -> list[DecodedEvent]:
        async with self.db.transaction() as session:
            payloads = (
                (await session.execute(select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars().all()
            )
        return [decode(p.encode()) for p in payloads]

    async def ready(self) -> None:
        async def check() -> bool:
            return (await self.client.get("/readyz")).status_code == 200

        await eventually(check, within=30)

    async def send(self, *envelopes: bytes, new: int | None = None) -> None:
        """Produce onto the real topics and return once the consumer applied ``new`` of them (default:
        all; duplicates are not applied, so a test sending one says how many are new)."""
        before = await self.processed()
        await produce_raw_envelopes(self.bootstrap, self.namespace, envelopes)
        if new != 0:
            target = before + (len(envelopes) if new is None else new)

            async def applied() -> bool:
                return await self.processed() >= target

            await eventually(applied, within=30)


@asynccontextmanager
async def credit_service(
    bootstrap: str, namespace: str, url: str, clock: Clock, **overrides: Any
) -> AsyncIterator[Credit]:
    db = Database(url, pool_size=5)
    settings = settings_for("credit", kafka_bootstrap_servers=bootstrap, kafka_namespace=namespace, **overrides)
    app = create_app(settings, db, clock=clock)
    try:
        async with running(app) as client:
            credit = Credit(client=client, app=app, db=db, namespace=namespace, bootstrap=bootstrap)
            await credit.ready()
            yield credit
    finally:
        await db.dispose()


SOURCES = {"filing": "/services/filing", "inspection": "/services/inspection"}


def envelope(data: EventData, *, key: str, at: datetime | None = None) -> bytes:
    """The CloudEvent bytes the producing service's relay would publish (no namespace in the bytes)."""
    service = data.event_type.split(".")[4]
    return Outbox(source=SOURCES[service]).envelope(data, subject=key, at=at or T0).to_json().encode()


async def produce_raw_envelopes(bootstrap: str, namespace: str, envelopes: tuple[bytes, ...] | list[bytes]) -> None:
    import json

    from shared.events import CATALOGUE

    for raw in envelopes:
        parsed = json.loads(raw)
        topic = CATALOGUE[parsed["type"]].topic
        await produce_raw(bootstrap, f"{namespace}{topic}", [(parsed["subject"].encode(), raw)])


# --- event builders ---------------------------------------------------------------------------------


def submitted(institution_id: uuid.UUID, at: datetime, name: str = "天河区小树苗托育中心") -> bytes:
    data = InstitutionSubmittedV1(
        institution_id=institution_id,
        uscc=make_uscc(),
        name=name,
        district_code="440106",
        street_code="440106001",
        submitted_at=at,
    )
    return envelope(data, key=str(institution_id), at=at)


def clean_inspection(institution_id: uuid.UUID, published_at: datetime) -> bytes:
    data = InspectionResultPublishedV1(
        institution_id=institution_id,
        task_id=uuid.uuid4(),
        conclusion="compliant",
        violation_count=0,
        summary_zh="检查未发现问题",
        inspected_at=published_at - timedelta(days=1),
        published_at=published_at,
    )
    return envelope(data, key=str(institution_id), at=published_at)


def violation(
    institution_id: uuid.UUID,
    severity: str,
    confirmed_at: datetime,
    *,
    violation_id: uuid.UUID | None = None,
    child_abuse: bool = False,
    person_ref: str | None = None,
    legal_basis: str = "《托育机构管理规范（试行）》第十五条",
) -> bytes:
    data = ViolationConfirmedV1(
        violation_id=violation_id or uuid.uuid4(),
        task_id=uuid.uuid4(),
        institution_id=institution_id,
        code="CHILD_ABUSE" if child_abuse else "FEE_NOT_DISCLOSED",
        title_zh="虐待、殴打、伤害或性侵害婴幼儿" if child_abuse else "未公示收费项目和标准",
        severity=severity,
        legal_basis=legal_basis,
        child_abuse=child_abuse,
        person_ref=person_ref,
        description="现场检查发现",
        rectification_due=(confirmed_at + timedelta(days=15)).date(),
        confirmed_by="supervisor-01",
        confirmed_at=confirmed_at,
    )
    return envelope(data, key=str(institution_id), at=confirmed_at)


def escalated(institution_id: uuid.UUID, violation_id: uuid.UUID, due: date, at: datetime) -> bytes:
    data = ViolationEscalatedV1(
        violation_id=violation_id,
        institution_id=institution_id,
        severity="general",
        rectification_due=due,
        escalated_at=at,
    )
    return envelope(data, key=str(institution_id), at=at)


def closed(institution_id: uuid.UUID, violation_id: uuid.UUID, at: datetime) -> bytes:
    """A follow-up inspection verified the violation's rectification (整改到位)."""
    data = ViolationClosedV1(violation_id=violation_id, institution_id=institution_id, closed_at=at)
    return envelope(data, key=str(institution_id), at=at)


async def upload_evidence(client: httpx.AsyncClient, entry_id: str, headers: dict[str, str], note: str) -> str:
    """Upload a (tiny, real) PDF as repair evidence of the entry; returns its SHA-256."""
    response = await client.post(
        f"/v1/credit/entries/{entry_id}/evidence",
        content=f"%PDF-1.4\n% {note}\n%%EOF\n".encode(),
        headers={**headers, "Content-Type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sha256"])


def report_overdue(institution_id: uuid.UUID, year: int, due: date) -> bytes:
    data = AnnualReportOverdueV1(institution_id=institution_id, year=year, due_date=due, district_code="440106")
    return envelope(
        data, key=str(institution_id), at=datetime(due.year, due.month, due.day, tzinfo=UTC) + timedelta(days=2)
    )


def grades(events: list[DecodedEvent]) -> list[tuple[str | None, str, float, str]]:
    """(previous, grade, score, policy) of every InstitutionGradedV1 emitted, in order."""
    out = []
    for e in events:
        if e.type.endswith("institution.graded.v1"):
            d = e.data.model_dump()
            out.append((d["previous_grade"], d["grade"], d["score"], d["policy_version"]))
    return out


def rescores(events: list[DecodedEvent]) -> list[tuple[str, float, float, str]]:
    """(grade, previous score, score, policy) of every InstitutionRescoredV1 emitted, in order."""
    out = []
    for e in events:
        if e.type.endswith("institution.rescored.v1"):
            d = e.data.model_dump()
            out.append((d["grade"], d["previous_score"], d["score"], d["policy_version"]))
    return out
