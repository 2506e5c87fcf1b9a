"""Plans and verifiable draws (双随机) for supervisors."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.inspection.common import now_of, settings_of
from services.inspection.errors import PlanAlreadyCommitted, PlanAlreadyDrawn, PlanNotCommitted, PlanNotFound
from services.inspection.models import Plan
from services.inspection.plans import repository, service
from services.inspection.plans.schemas import DrawIn, DrawRecordOut, PlanCreate, PlanOut
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["plans"])

Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
# Not public: a draw known before the inspection window lets institutions prepare for the visit.
DrawReader = Annotated[Principal, Depends(require_roles("supervisor", "ops", "agency:*"))]
AUTH = error_responses(Unauthenticated, Forbidden)


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        name=plan.name,
        status=plan.status,
        districts=list(plan.districts),
        operating_models=list(plan.operating_models),
        sampling_ratios=dict(plan.ratios),
        team_size=plan.team_size,
        window_start=plan.window_start,
        window_end=plan.window_end,
        checklist_items=list(plan.checklist),
        publication_working_days=plan.publication_working_days,
        created_at=plan.created_at,
        commitment=plan.commitment,
        institutions_hash=plan.institutions_hash,
        inspectors_hash=plan.inspectors_hash,
        committed_at=plan.committed_at,
        drawn_at=plan.drawn_at,
    )


@router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    summary="Create a random-inspection plan (抽查计划)",
    responses={**AUTH, **error_responses(InvalidInput)},
)
async def create_plan(
    body: PlanCreate, session: DbSession, supervisor: Supervisor, request: Request, response: Response
) -> PlanOut:
    settings = settings_of(request)
    ratios = {g: Decimal(str(v)) for g, v in settings.sampling_ratios.items()}
    ratios.update({str(g): v for g, v in (body.sampling_ratios or {}).items()})
    plan = await service.create(
        session,
        request.app.state.outbox,
        service.PlanInput(
            name=body.name,
            districts=body.districts,
            operating_models=list(body.operating_models),
            ratios=ratios,
            team_size=body.team_size or settings.default_team_size,
            window_start=body.window_start,
            window_end=body.window_end,
            checklist_items=body.checklist_items,
            publication_working_days=body.publication_working_days or settings.publication_working_days,
        ),
        by=supervisor,
        now=now_of(request),
    )
    response.headers["Location"] = f"/v1/plans/{plan.id}"
    return plan_out(plan)


@router.get("/plans", response_model=list[PlanOut], summary="All plans, newest first", responses=AUTH)
async def list_plans(session: DbSession, _: DrawReader) -> list[PlanOut]:
    return [plan_out(p) for p in await repository.list_plans(session)]


@router.get(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="One plan",
    responses={**AUTH, **error_responses(PlanNotFound)},
)
async def get_plan(plan_id: uuid.UUID, session: DbSession, _: DrawReader) -> PlanOut:
    return plan_out(await service.get(session, plan_id))


@router.post(
    "/plans/{plan_id}/commit",
    response_model=PlanOut,
    summary="Freeze and hash the candidate lists; publish commitment = sha256(server_seed)",
    responses={**AUTH, **error_responses(PlanNotFound, PlanAlreadyCommitted)},
)
async def commit_plan(plan_id: uuid.UUID, session: DbSession, supervisor: Supervisor, request: Request) -> PlanOut:
    plan = await service.commit(session, request.app.state.outbox, plan_id, by=supervisor, now=now_of(request))
    return plan_out(plan)


@router.post(
    "/plans/{plan_id}/draw",
    response_model=DrawRecordOut,
    summary="Draw with the independent witness value; creates one task per assigned institution",
    responses={**AUTH, **error_responses(InvalidInput, PlanNotFound, PlanNotCommitted, PlanAlreadyDrawn)},
)
async def draw_plan(
    plan_id: uuid.UUID, body: DrawIn, session: DbSession, supervisor: Supervisor, request: Request
) -> DrawRecordOut:
    plan = await service.run(
        session, request.app.state.outbox, plan_id, body.witness_value, by=supervisor, now=now_of(request)
    )
    return await _record(session, plan)


@router.get(
    "/plans/{plan_id}/draw",
    response_model=DrawRecordOut,
    summary="Everything needed to recompute and verify the draw (server seed revealed after the draw)",
    responses={**AUTH, **error_responses(PlanNotFound, PlanNotCommitted)},
)
async def get_draw(plan_id: uuid.UUID, session: DbSession, _: DrawReader) -> DrawRecordOut:
    return await _record(session, await service.get(session, plan_id))


async def _record(session: DbSession, plan: Plan) -> DrawRecordOut:
    if plan.status == "draft":
        raise PlanNotCommitted("抽查计划尚未锁定名单，没有可核验的抽取记录")
    assert plan.commitment
    assert plan.institutions_hash
    assert plan.inspectors_hash
    assert plan.committed_at
    drawn = plan.status == "drawn"
    tasks = await repository.tasks_of_plan(session, plan.id) if drawn else []
    return DrawRecordOut(
        plan_id=plan.id,
        status="drawn" if drawn else "committed",
        algorithm=plan.algorithm,
        parameters=service.parameters(plan),
        institutions=list(plan.institutions or []),
        institutions_hash=plan.institutions_hash,
        inspectors=list(plan.inspectors or []),
        inspectors_hash=plan.inspectors_hash,
        commitment=plan.commitment,
        committed_at=plan.committed_at,
        server_seed=plan.server_seed if drawn else None,
        witness_value=plan.witness_value,
        draw_seed=plan.draw_seed,
        result=plan.result,
        drawn_at=plan.drawn_at,
        tasks=[{"institution_id": str(t.institution_id), "task_id": str(t.id)} for t in tasks],
    )
