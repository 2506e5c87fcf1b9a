"""Shared setup of the whose-data tests: the four services on the real broker, one institution of
天河区 (440106) filed through filing's API (submitted by one officer of the district, decided by
another), known to inspection's target pool, and the callers who must not reach its data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute

from devstack.kafka import LocalKafka
from services.inspection.quality.scheme import schemes
from shared.identifiers import resident_id_check_char
from tests.filing.support import filing_body
from tests.support import Platform, eventually, token

TIANHE = token("filing_officer", subject="officer-tianhe-a", districts=["440106"])
TIANHE_DECIDER = token("filing_officer", subject="officer-tianhe-b", districts=["天河区"])  # a name works too
YUEXIU = token("filing_officer", subject="officer-yuexiu-a", districts=["440104"])
SUPERVISOR = token("supervisor", subject="supervisor-city")
OPS = token("ops", subject="ops-city")
ON_TEAM = ("inspector-th-a", "inspector-th-b")
NOT_ON_TEAM = "inspector-th-c"
NOBODY = token("agency:nobody", subject="agency-nobody")
POLICE = token("agency:public_security", subject="agency-police")
MARKET = token("agency:market_regulation", subject="agency-market")
HEALTH = token("agency:health_commission", subject="agency-health")

# a complete PDF: header, body, %%EOF (the upload checks the whole file)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    urls = {s: fresh_db(s) for s in ("filing", "inspection", "credit", "reporting")}
    async with Platform(kafka.bootstrap, namespace, urls) as p:
        yield p


@dataclass
class World:
    institution_id: str
    document: str
    task_id: str
    inspector_ids: list[str]


def resident_id(serial: int) -> str:
    first17 = f"44010619900101{serial % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def self_assessment(institution_id: str) -> dict[str, Any]:
    scheme = schemes()["wst821-v1"].scheme
    items = [
        {"code": code, "score": item.points, **({"veto_met": True} if item.veto else {})}
        for code, (_, item) in scheme.items().items()
    ]
    return {"institution_id": institution_id, "kind": "self", "scheme_version": "wst821-v1", "items": items}


async def build_world(p: Platform) -> World:
    filing, insp = p.clients["filing"], p.clients["inspection"]
    documents = {}
    for kind in ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"):
        r = await filing.post(
            "/v1/documents",
            content=PDF + f"% {kind} {uuid.uuid4()}\n%%EOF\n".encode(),
            headers={**TIANHE, "Content-Type": "application/pdf"},
        )
        assert r.status_code == 201, r.text
        documents[kind] = r.json()["sha256"]
    created = await filing.post("/v1/institutions", json=filing_body(documents), headers=TIANHE)
    assert created.status_code == 201, created.text
    institution_id = created.json()["id"]
    decided = await filing.post(
        f"/v1/institutions/{institution_id}/decision", json={"decision": "file"}, headers=TIANHE_DECIDER
    )
    assert decided.status_code == 200, decided.text

    async def in_pool() -> bool:
        r = await insp.get("/v1/target-institutions?district=440106", headers=SUPERVISOR)
        return any(i["institution_id"] == institution_id for i in r.json()["items"])

    await eventually(in_pool)
    inspector_ids = []
    for subject in (*ON_TEAM, NOT_ON_TEAM):
        r = await insp.post(
            "/v1/inspectors",
            json={
                "subject": subject,
                "name": f"检查员{subject[-1]}",
                "agency": "天河区卫生健康局",
                "badge_number": f"TH-{uuid.uuid4().hex[:8]}",
                "districts": ["天河区"],
            },
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        inspector_ids.append(r.json()["id"])
    task = await insp.post(
        "/v1/targeted-inspections",
        json={
            "institution_id": institution_id,
            "inspector_ids": inspector_ids[:2],
            "reason": "other",
            "reason_detail": "专项检查",
            "due_by": (date.today() + timedelta(days=10)).isoformat(),
        },
        headers=SUPERVISOR,
    )
    assert task.status_code == 201, task.text
    return World(institution_id, documents["business_licence"], task.json()["id"], inspector_ids)


def routes_of(p: Platform, service: str) -> Iterator[tuple[str, str, list[tuple[str, ...]]]]:
    """(method, path template, declared roles) of every route of a running service."""
    from tests.security.test_access_matrix import _routes, declared_roles

    for route in _routes(p.apps[service].router.routes):
        if isinstance(route, APIRoute):
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method, route.path, declared_roles(route)
