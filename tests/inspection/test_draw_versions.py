"""Plans keep the draw algorithm they were created with across migration inspection_0005: a plan drawn
under v1 before the migration still publishes v1 and verifies; a plan committed under v1 but drawn
after it is drawn with v1; a plan created after it is drawn with v2."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from devstack.postgres import LocalPostgres
from services.inspection import draw as drawing
from services.inspection.reference import checklist
from shared.db import Database
from shared.migrate import upgrade
from tests.inspection.support import SUPERVISOR, verify
from tests.support import create_app, running, settings_for

# The tables as the code before inspection_0005 wrote them (no plan.algorithm column).
INSPECTOR = sa.table(
    "inspector",
    *[sa.column(c) for c in ("id", "subject", "name", "agency", "badge_number", "active", "created_by", "created_at")],
    sa.column("districts", ARRAY(sa.Text)),
)
PLAN_COLUMNS = (
    "id name team_size window_start window_end publication_working_days status created_by created_at server_seed "
    "commitment institutions_hash inspectors_hash committed_by committed_at witness_value draw_seed drawn_by drawn_at"
).split()
PLAN = sa.table(
    "plan",
    *[sa.column(c) for c in PLAN_COLUMNS],
    sa.column("districts", ARRAY(sa.Text)),
    sa.column("operating_models", ARRAY(sa.Text)),
    *[sa.column(c, JSONB) for c in ("ratios", "checklist", "institutions", "inspectors", "result")],
)
RATIOS = dict.fromkeys(drawing.STRATA, "1")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def frozen_lists(inspector_ids: list[str]) -> tuple[list[Any], list[Any]]:
    institutions = drawing.normalise_institutions(
        [
            {
                "id": str(uuid.UUID(int=n + 1)),
                "district": "440106",
                "grade": "D",
                "conflicts": [inspector_ids[n % 5]] if n % 3 == 0 else [],
            }
            for n in range(12)
        ]
    )
    inspectors = drawing.normalise_inspectors([{"id": i, "districts": ["440106"]} for i in inspector_ids])
    return [dict(e) for e in institutions], [dict(e) for e in inspectors]


def plan_row(status: str, institutions: list[Any], inspectors: list[Any], witness: str | None = None) -> dict[str, Any]:
    server_seed = secrets.token_hex(32)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": f"v1 时期的抽查计划（{status}）",
        "districts": ["440106"],
        "operating_models": [],
        "ratios": RATIOS,
        "team_size": 2,
        "window_start": date(2026, 3, 1),
        "window_end": date(2026, 3, 31),
        "checklist": list(checklist()),
        "publication_working_days": 20,
        "status": status,
        "created_by": "supervisor-city-01",
        "created_at": AT,
        "server_seed": server_seed,
        "commitment": drawing.commitment(server_seed),
        "institutions": institutions,
        "inspectors": inspectors,
        "institutions_hash": drawing.list_hash(institutions),
        "inspectors_hash": drawing.list_hash(inspectors),
        "committed_by": "supervisor-city-01",
        "committed_at": AT,
        "witness_value": None,
        "draw_seed": None,
        "result": None,
        "drawn_by": None,
        "drawn_at": None,
    }
    if witness is not None:
        seed = drawing.draw_seed(server_seed, witness)
        params = {"ratios": RATIOS, "team_size": 2}
        row |= {
            "witness_value": witness,
            "draw_seed": seed,
            "result": drawing.run_draw(seed, institutions, inspectors, params, drawing.ALGORITHM_V1),
            "drawn_by": "supervisor-city-01",
            "drawn_at": AT,
        }
    return row


async def test_v1_plans_keep_v1_after_the_migration_and_new_plans_use_v2(pg: LocalPostgres) -> None:
    name = f"t_inspection_v1_{uuid.uuid4().hex[:8]}"
    url = pg.create_database(name)
    try:
        await asyncio.to_thread(upgrade, "inspection", url, "inspection_0004")
        inspector_ids = [str(uuid.UUID(int=1000 + n)) for n in range(5)]
        institutions, inspectors = frozen_lists(inspector_ids)
        drawn = plan_row("drawn", institutions, inspectors, witness="福彩3D 2026056 718")
        committed = plan_row("committed", institutions, inspectors)
        db = Database(url, pool_size=2)
        try:
            async with db.transaction() as session:
                await session.execute(
                    sa.insert(INSPECTOR),
                    [
                        {
                            "id": uuid.UUID(i),
                            "subject": f"insp-{n}",
                            "name": f"检查员{n}",
                            "agency": "天河区卫生健康局",
                            "badge_number": f"GZ-V1-{n}",
                            "districts": ["440106"],
                            "active": True,
                            "created_by": "supervisor-city-01",
                            "created_at": AT,
                        }
                        for n, i in enumerate(inspector_ids)
                    ],
                )
                await session.execute(sa.insert(PLAN), [drawn, committed])
        finally:
            await db.dispose()

        await asyncio.to_thread(upgrade, "inspection", url)

        db = Database(url, pool_size=2)
        app = create_app("inspection", settings_for("inspection", run_background_workers=False), db)
        try:
            async with running(app) as client:
                # drawn before the migration: published as v1, unchanged, and it verifies
                record = (await client.get(f"/v1/plans/{drawn['id']}/draw", headers=SUPERVISOR)).json()
                assert record["algorithm"] == record["result"]["algorithm"] == drawing.ALGORITHM_V1
                assert record["result"] == drawn["result"]
                ok = verify(record)
                assert ok.returncode == 0, ok.stdout + ok.stderr

                # committed before, drawn after: still v1, which here gives other teams than v2 would
                r = await client.post(
                    f"/v1/plans/{committed['id']}/draw",
                    json={"witness_value": "福彩3D 2026057 305"},
                    headers=SUPERVISOR,
                )
                assert r.status_code == 200, r.text
                late = r.json()
                assert late["algorithm"] == late["result"]["algorithm"] == drawing.ALGORITHM_V1
                params = {"ratios": RATIOS, "team_size": 2}
                as_v1 = drawing.run_draw(late["draw_seed"], institutions, inspectors, params, drawing.ALGORITHM_V1)
                as_v2 = drawing.run_draw(late["draw_seed"], institutions, inspectors, params, drawing.ALGORITHM_V2)
                assert late["result"] == as_v1
                assert as_v1["teams"] != as_v2["teams"]
                ok = verify(late)
                assert ok.returncode == 0, ok.stdout + ok.stderr

                # created after the migration: v2
                created = await client.post(
                    "/v1/plans",
                    json={
                        "name": "迁移后的抽查计划",
                        "districts": ["天河区"],
                        "window_start": "2026-04-01",
                        "window_end": "2026-04-30",
                    },
                    headers=SUPERVISOR,
                )
                assert created.status_code == 201, created.text
                plan_id = created.json()["id"]
                assert (await client.post(f"/v1/plans/{plan_id}/commit", headers=SUPERVISOR)).status_code == 200
                new = (await client.get(f"/v1/plans/{plan_id}/draw", headers=SUPERVISOR)).json()
                assert new["algorithm"] == drawing.ALGORITHM_V3
        finally:
            await db.dispose()
    finally:
        pg.drop_database(name)
