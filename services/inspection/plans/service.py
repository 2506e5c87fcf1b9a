"""Random-inspection plans and their verifiable draws (双随机).

draft → commit (freeze and hash the candidate lists, publish sha256(server_seed)) → draw (with an
independent witness value; pure function in ``services.inspection.draw``) → one task per assigned
institution. No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection import draw as drawing
from services.inspection.errors import PlanAlreadyCommitted, PlanAlreadyDrawn, PlanNotCommitted, PlanNotFound
from services.inspection.models import Plan
from services.inspection.plans import repository
from services.inspection.pool import repository as pool_repository
from services.inspection.reference import checklist
from services.inspection.tasks import service as tasks
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.events.inspection import PlanCommittedV1, PlanCreatedV1, PlanDrawnV1
from shared.outbox import Outbox


def ratio_text(value: Decimal | float | str) -> str:
    """A ratio as the canonical decimal string of the published record ("0.1", "1", "0")."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text


@dataclass(frozen=True)
class PlanInput:
    name: str
    districts: list[str]
    operating_models: list[str]
    ratios: dict[str, Decimal]
    team_size: int
    window_start: date
    window_end: date
    checklist_items: list[str] | None
    publication_working_days: int


async def create(session: AsyncSession, outbox: Outbox, data: PlanInput, *, by: Principal, now: datetime) -> Plan:
    if data.window_start > data.window_end:
        raise InvalidInput("检查时间窗口的结束日期不能早于开始日期", code="window_reversed", field="window_end")
    missing = [g for g in drawing.STRATA if g not in data.ratios]
    if missing:
        raise InvalidInput(f"缺少信用等级 {missing[0]} 的抽查比例", code="ratio_missing", field="sampling_ratios")
    plan = Plan(
        id=uuid.uuid4(),
        name=data.name,
        districts=list(data.districts),
        operating_models=list(data.operating_models),
        ratios={g: ratio_text(data.ratios[g]) for g in drawing.STRATA},
        team_size=data.team_size,
        algorithm=drawing.ALGORITHM,
        window_start=data.window_start,
        window_end=data.window_end,
        checklist=list(data.checklist_items) if data.checklist_items else list(checklist()),
        publication_working_days=data.publication_working_days,
        status="draft",
        created_by=by.subject,
        created_at=now,
    )
    await repository.add(session, plan)
    await outbox.add(
        session,
        PlanCreatedV1(
            plan_id=plan.id,
            name=plan.name,
            districts=list(plan.districts),
            window_start=plan.window_start,
            window_end=plan.window_end,
            created_by=by.subject,
            created_at=now,
        ),
        subject=str(plan.id),
    )
    return plan


async def get(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False) -> Plan:
    plan = await repository.get(session, plan_id, lock=lock)
    if plan is None:
        raise PlanNotFound()
    return plan


async def commit(session: AsyncSession, outbox: Outbox, plan_id: uuid.UUID, *, by: Principal, now: datetime) -> Plan:
    """Freeze the candidate lists, hash them, and publish the commitment to a fresh server seed."""
    plan = await get(session, plan_id, lock=True)
    if plan.status != "draft":
        raise PlanAlreadyCommitted()
    rows = await pool_repository.pool(session, districts=plan.districts, operating_models=plan.operating_models)
    institution_ids = [row[0].institution_id for row in rows]
    conflicts: dict[uuid.UUID, list[str]] = {}
    for c in await pool_repository.conflicts(session, institution_ids=institution_ids):
        conflicts.setdefault(c.institution_id, []).append(str(c.inspector_id))
    previous = await repository.previous_teams(session, institution_ids)
    institutions = drawing.normalise_institutions(
        [
            {
                "id": str(target.institution_id),
                "district": target.district_code,
                "grade": grade or "ungraded",
                "conflicts": conflicts.get(target.institution_id, []),
                "previous_team": previous.get(target.institution_id, []),
            }
            for target, grade in rows
        ]
    )
    in_scope = set(plan.districts)
    inspectors = drawing.normalise_inspectors(
        [
            {"id": str(i.id), "districts": [d for d in i.districts if d in in_scope]}
            for i in await pool_repository.inspectors(session, active=True)
            if in_scope.intersection(i.districts)
        ]
    )
    plan.server_seed = secrets.token_hex(32)
    plan.commitment = drawing.commitment(plan.server_seed)
    plan.institutions = [dict(e) for e in institutions]
    plan.inspectors = [dict(e) for e in inspectors]
    plan.institutions_hash = drawing.list_hash(institutions)
    plan.inspectors_hash = drawing.list_hash(inspectors)
    plan.status = "committed"
    plan.committed_by = by.subject
    plan.committed_at = now
    await session.flush()
    await outbox.add(
        session,
        PlanCommittedV1(
            plan_id=plan.id,
            commitment=plan.commitment,
            institutions_hash=plan.institutions_hash,
            inspectors_hash=plan.inspectors_hash,
            institution_count=len(institutions),
            inspector_count=len(inspectors),
            committed_at=now,
        ),
        subject=str(plan.id),
    )
    return plan


def parameters(plan: Plan) -> dict[str, Any]:
    return {"ratios": dict(plan.ratios), "team_size": plan.team_size}


async def run(
    session: AsyncSession, outbox: Outbox, plan_id: uuid.UUID, witness_value: str, *, by: Principal, now: datetime
) -> Plan:
    """The draw: seed from the committed server seed and the witness value, then the pure draw with
    the plan's own algorithm (plans created before v2 keep v1, so their published records verify)."""
    plan = await get(session, plan_id, lock=True)
    if plan.status == "draft":
        raise PlanNotCommitted()
    if plan.status == "drawn":
        raise PlanAlreadyDrawn()
    assert plan.server_seed is not None
    assert plan.institutions is not None
    assert plan.inspectors is not None
    seed = drawing.draw_seed(plan.server_seed, witness_value)
    result = drawing.run_draw(
        seed,
        drawing.normalise_institutions(plan.institutions),
        drawing.normalise_inspectors(plan.inspectors),
        parameters(plan),
        plan.algorithm,
    )
    plan.witness_value = witness_value
    plan.draw_seed = seed
    plan.result = result
    plan.status = "drawn"
    plan.drawn_by = by.subject
    plan.drawn_at = now
    await session.flush()
    await outbox.add(
        session,
        PlanDrawnV1(
            plan_id=plan.id,
            server_seed=plan.server_seed,
            witness_value=witness_value,
            draw_seed=seed,
            selected_count=len(result["selected"]),
            drawn_at=now,
        ),
        subject=str(plan.id),
    )
    for team in result["teams"]:
        await tasks.create_task(
            session,
            outbox,
            tasks.NewTask(
                institution_id=uuid.UUID(team["institution_id"]),
                inspector_ids=[uuid.UUID(i) for i in team["inspector_ids"]],
                kind="random",
                plan_id=plan.id,
                checklist=list(plan.checklist),
                due_by=plan.window_end,
                publication_working_days=plan.publication_working_days,
            ),
            now=now,
        )
    return plan
