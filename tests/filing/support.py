"""Helpers for filing-service tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.models import Institution
from shared.identifiers import uscc_check_char

_serial = itertools.count(1)


def make_uscc(serial: int | None = None) -> str:
    n = next(_serial) if serial is None else serial
    body = f"9144010{n % 10}MA{(n * 7919 + uuid.uuid4().int) % 10**7:07d}"
    return body + uscc_check_char(body)


async def insert_filed_institution(session: AsyncSession, **overrides: Any) -> uuid.UUID:
    """A filed institution written straight to the table (for tests of what builds on filing)."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "uscc": make_uscc(),
        "name": "天河区小树苗托育中心",
        "organiser_type": "enterprise",
        "operating_model": "private",
        "service_types": ["full_day"],
        "district_code": "440106",
        "street_code": "440106001",
        "address": "天河路1号",
        "latitude": 23.1291,
        "longitude": 113.3240,
        "premises_area_m2": 480.0,
        "classes": [{"class_type": "toddler", "size": 15}, {"class_type": "older", "size": 20}],
        "total_slots": 35,
        "puhui_slots": 20,
        "monthly_fee_yuan": 3800,
        "meals": True,
        "contact_phone": None,
        "documents": {},
        "status": "filed",
        "submission": 1,
        "submitted_by": "officer",
        "submitted_at": now,
        "decision_due": None,
        "decided_at": now,
        "filed_at": now,
    }
    values.update(overrides)
    if "classes" in overrides and "total_slots" not in overrides:
        values["total_slots"] = sum(c["size"] for c in values["classes"])
    session.add(Institution(**values))
    await session.flush()
    return values["id"]


PDF = b"%PDF-1.7\n% test document\n"


async def upload_documents(client: Any, headers: dict[str, str], *, meals: bool = True) -> dict[str, str]:
    """Uploads one distinct PDF per required material and returns kind -> SHA-256."""
    kinds = ["business_licence", "premises_proof", "hygiene_evaluation", "fire_safety"] + (
        ["food_licence"] if meals else []
    )
    documents = {}
    for kind in kinds:
        response = await client.post(
            "/v1/documents",
            content=PDF + kind.encode() + b"\n%%EOF\n",
            headers={**headers, "Content-Type": "application/pdf"},
        )
        assert response.status_code == 201, response.text
        documents[kind] = response.json()["sha256"]
    return documents


def filing_body(documents: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": make_uscc(),
        "name": "天河区小树苗托育中心",
        "organiser_type": "enterprise",
        "operating_model": "private",
        "service_types": ["full_day", "hourly"],
        "district": "天河区",
        "street_code": "440106001",
        "address": "天河路100号2楼",
        "latitude": 23.1291,
        "longitude": 113.3240,
        "premises_area_m2": 480.0,
        "classes": [{"class_type": "toddler", "size": 15}, {"class_type": "older", "size": 20}],
        "puhui_slots": 20,
        "monthly_fee_yuan": 3800,
        "meals": True,
        "documents": documents,
    }
    body.update(overrides)
    return body
