"""The P2 baseline: a bare Starlette + asyncpg endpoint doing the filing transaction by hand.

``uvicorn --factory bench.baseline_app:create_app`` with ``BENCH_DATABASE_URL`` pointing at a
migrated filing database. ``POST /v1/institutions`` parses the JSON body, inserts the institution row
and its ``…institution.submitted.v1`` CloudEvent into the outbox in one transaction, and answers
201 with the row. No authentication, validation, document or duplicate checks, ORM or metrics: the
floor under what the filing service does for the same request.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

INSERT_INSTITUTION = """
INSERT INTO institution (id, uscc, name, organiser_type, operating_model, service_types, district_code,
  street_code, address, latitude, longitude, premises_area_m2, classes, total_slots, puhui_slots,
  monthly_fee_yuan, meals, contact_phone, documents, status, submission, submitted_by, submitted_at,
  decision_due, decision_due_provisional, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17, $18, $19::jsonb,
  'submitted', 1, 'bench', $20, $21, false, 1)
"""
INSERT_OUTBOX = "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) VALUES ($1, $2, $3, $4, $5)"
EVENT_TYPE = "cn.gov.gz.childcare.filing.institution.submitted.v1"
TOPIC = "childcare.filing.events"


def create_app() -> Starlette:
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # the same pool size as the service (db_pool_size 10)
        state["pool"] = await asyncpg.create_pool(url, min_size=10, max_size=10)
        yield
        await state["pool"].close()

    async def submit(request: Request) -> JSONResponse:
        body = await request.json()
        iid = uuid.uuid4()
        now = datetime.now(UTC)
        due = (now + timedelta(days=7)).date()
        total = sum(int(c["size"]) for c in body["classes"])
        district = "440106"
        row = {
            "id": str(iid),
            "uscc": body["uscc"],
            "name": body["name"],
            "status": "submitted",
            "district_code": district,
            "street_code": body["street_code"],
            "total_slots": total,
            "submitted_at": now.isoformat(),
            "decision_due": due.isoformat(),
        }
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/filing",
            "type": EVENT_TYPE,
            "time": now.isoformat().replace("+00:00", "Z"),
            "subject": str(iid),
            "datacontenttype": "application/json",
            "data": {**body, "institution_id": str(iid), "district_code": district, "total_slots": total},
        }
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        async with state["pool"].acquire() as conn, conn.transaction():
            await conn.execute(
                INSERT_INSTITUTION,
                iid,
                body["uscc"],
                body["name"],
                body["organiser_type"],
                body["operating_model"],
                body["service_types"],
                district,
                body["street_code"],
                body["address"],
                body["latitude"],
                body["longitude"],
                body["premises_area_m2"],
                json.dumps(body["classes"]),
                total,
                body["puhui_slots"],
                body["monthly_fee_yuan"],
                body["meals"],
                body.get("contact_phone"),
                json.dumps(body["documents"]),
                now,
                due,
            )
            await conn.execute(INSERT_OUTBOX, event["id"], TOPIC, str(iid), EVENT_TYPE, payload)
        return JSONResponse(row, status_code=201, headers={"Location": f"/v1/institutions/{iid}"})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/v1/institutions", submit, methods=["POST"]), Route("/readyz", healthz)],
        lifespan=lifespan,
    )
