"""Plans and verifiable draws (双随机) for supervisors."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse

from services.inspection import draw as drawing
from services.inspection.beacon import BeaconChain
from services.inspection.common import now_of, settings_of
from services.inspection.errors import (
    BeaconRoundNotReached,
    NoWitnessRevealed,
    ObserverAlreadyRevealed,
    ObserverNotFound,
    ObserversRequired,
    PlanAlreadyCommitted,
    PlanAlreadyDrawn,
    PlanNotCommitted,
    PlanNotDrawn,
    PlanNotFound,
    RevealAfterBeaconRound,
    RevealTimeNotReached,
    WitnessRevealsPending,
)
from services.inspection.plans import repository, service
from services.inspection.plans.models import Plan, PlanObserver
from services.inspection.plans.schemas import (
    BeaconOut,
    CommitIn,
    DrawIn,
    DrawRecordOut,
    ObserverIn,
    ObserverOut,
    PlanCreate,
    PlanOut,
    PublicPlanOut,
    RevealIn,
    WitnessOut,
)
from services.inspection.settings import InspectionSettings
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.grants import AgencyView, NoDataSharingGrant, Sources, agency_view, grants_of

router = APIRouter(prefix="/v1", tags=["plans"])

Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
# Not public: a draw known before the inspection window lets institutions prepare for the visit.
DrawReader = Annotated[Principal, Depends(require_roles("supervisor", "ops", "agency:*"))]
AUTH = error_responses(Unauthenticated, Forbidden)
AGENCY_AUTH = error_responses(Unauthenticated, Forbidden, NoDataSharingGrant)

_E = "cn.gov.gz.childcare.inspection."
_CREATED, _COMMITTED = f"{_E}plan.created.v1", f"{_E}plan.committed.v1"
_DRAWN, _ASSIGNED = f"{_E}plan.drawn.v1", f"{_E}task.assigned.v1"
# What an agency may see of plans and draw records (shared.grants): each field shows these event
# fields and is shown when the agency's data-sharing grant covers one of them. Fields no event
# carries (sampling ratios, team size, checklist) are never shown to an agency, and the selection
# (which institutions are inspected, by which task) only with task.assigned: known before the
# inspection window, it would let institutions prepare for the visit.
PLAN_SOURCES: Sources = {
    "id": [(_CREATED, "plan_id")],
    "status": [(_CREATED, "plan_id")],
    **{f: [(_CREATED, f)] for f in ("name", "districts", "window_start", "window_end", "created_at")},
    **{f: [(_COMMITTED, f)] for f in ("commitment", "institutions_hash", "inspectors_hash", "committed_at")},
    "drawn_at": [(_DRAWN, "drawn_at")],
}
DRAW_SOURCES: Sources = {
    "plan_id": [(_COMMITTED, "plan_id"), (_DRAWN, "plan_id")],
    "status": [(_COMMITTED, "plan_id"), (_DRAWN, "plan_id")],
    "algorithm": [(_COMMITTED, "commitment")],
    "parameters": [(_COMMITTED, "commitment")],
    "institutions": [(_COMMITTED, "institutions_hash")],
    "inspectors": [(_COMMITTED, "inspectors_hash")],
    **{f: [(_COMMITTED, f)] for f in ("institutions_hash", "inspectors_hash", "commitment", "committed_at")},
    **{f: [(_DRAWN, f)] for f in ("server_seed", "witness_value", "draw_seed", "drawn_at")},
    "result": [(_ASSIGNED, "institution_id")],
    "tasks": [(_ASSIGNED, "task_id")],
}


def _view(request: Request, reader: Principal) -> AgencyView:
    return agency_view(reader, grants_of(request.app.state.settings), full_roles=("supervisor", "ops"))


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


AGENCY_NOTE = (
    "Supervisors and ops get every field. An agency gets only the fields its data-sharing grant covers "
    "(plan and task events, see docs/api.md); an agency without a grant, or whose grant covers none of it, "
    "gets 403 `no_data_sharing_grant`."
)


@router.get(
    "/plans",
    response_model=list[PlanOut],
    summary="All plans, newest first",
    description=AGENCY_NOTE,
    responses=AGENCY_AUTH,
)
async def list_plans(session: DbSession, reader: DrawReader, request: Request) -> list[PlanOut] | JSONResponse:
    view = _view(request, reader)
    view.require(PLAN_SOURCES)
    plans = [plan_out(p) for p in await repository.list_plans(session)]
    if view.full:
        return plans
    return JSONResponse([view.redact(p.model_dump(mode="json"), PLAN_SOURCES) for p in plans])


@router.get(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="One plan",
    description=AGENCY_NOTE,
    responses={**AGENCY_AUTH, **error_responses(PlanNotFound)},
)
async def get_plan(
    plan_id: uuid.UUID, session: DbSession, reader: DrawReader, request: Request
) -> PlanOut | JSONResponse:
    view = _view(request, reader)
    view.require(PLAN_SOURCES)
    out = plan_out(await service.get(session, plan_id))
    return out if view.full else JSONResponse(view.redact(out.model_dump(mode="json"), PLAN_SOURCES))


@router.post(
    "/plans/{plan_id}/commit",
    response_model=PlanOut,
    summary="Freeze and hash the candidate lists; publish commitment = sha256(server_seed), observers, reveal time",
    description=(
        'No body, or `{"beacon": {"chain_hash", "round"?}}` to name a public randomness beacon round (drand '
        "quicknet) as a further witness: its time must be strictly after the reveal time and no later than the first "
        "round at or after the end of the grace period, which is the default without `round`; reveals close at the "
        "round's time (docs/draw.md §1.2)."
    ),
    responses={**AUTH, **error_responses(InvalidInput, PlanNotFound, PlanAlreadyCommitted, ObserversRequired)},
)
async def commit_plan(
    plan_id: uuid.UUID, session: DbSession, supervisor: Supervisor, request: Request, body: CommitIn | None = None
) -> PlanOut:
    beacon = body.beacon if body is not None else None
    plan = await service.commit(
        session,
        request.app.state.outbox,
        plan_id,
        by=supervisor,
        now=now_of(request),
        rules=witness_rules(settings_of(request)),
        beacon=service.BeaconRequest(chain_hash=beacon.chain_hash, round=beacon.round) if beacon else None,
    )
    return plan_out(plan)


def witness_rules(settings: InspectionSettings) -> service.WitnessRules:
    return service.WitnessRules(
        reveal_delay=timedelta(seconds=settings.draw_reveal_delay_seconds),
        withheld_grace=timedelta(seconds=settings.draw_withheld_grace_seconds),
        min_observers=settings.draw_min_observers,
        beacon=BeaconChain(
            chain_hash=settings.draw_beacon_chain_hash,
            public_key=settings.draw_beacon_public_key,
            genesis_time=settings.draw_beacon_genesis_time,
            period_seconds=settings.draw_beacon_period_seconds,
        ),
    )


def observer_out(o: PlanObserver) -> ObserverOut:
    status: Literal["committed", "revealed", "withheld"] = (
        "revealed" if o.revealed_at is not None else "withheld" if o.withheld else "committed"
    )
    return ObserverOut(
        id=o.id,
        organisation=o.organisation,
        commitment=o.commitment,
        registered_at=o.registered_at,
        status=status,
        value=o.value,
        salt=o.salt,
        revealed_at=o.revealed_at,
    )


def witness_out(plan: Plan, observers: list[PlanObserver]) -> WitnessOut | None:
    if plan.algorithm not in drawing.WITNESSED:
        return None
    return WitnessOut(
        reveal_not_before=plan.reveal_not_before,
        withheld_after=plan.withheld_after,
        observers=[observer_out(o) for o in observers],
        witness_digest=plan.witness_digest,
        beacon=BeaconOut.model_validate(plan.beacon) if plan.beacon else None,
    )


@router.post(
    "/plans/{plan_id}/observers",
    status_code=status.HTTP_201_CREATED,
    response_model=ObserverOut,
    summary="Register an independent observer's commitment sha256(value || salt), before the commit (监督员)",
    responses={**AUTH, **error_responses(InvalidInput, PlanNotFound, PlanAlreadyCommitted)},
)
async def add_observer(
    plan_id: uuid.UUID, body: ObserverIn, session: DbSession, supervisor: Supervisor, request: Request
) -> ObserverOut:
    observer = await service.add_observer(
        session, plan_id, body.organisation, body.commitment, by=supervisor, now=now_of(request)
    )
    return observer_out(observer)


@router.post(
    "/plans/{plan_id}/observers/{observer_id}/reveal",
    response_model=ObserverOut,
    summary="An observer's value and salt, accepted after the plan's reveal time if they open its commitment",
    description=(
        "A plan that named a beacon round at its commit takes reveals only strictly before the round's time "
        "(409 `reveal_after_beacon_round`; docs/draw.md §1.2)."
    ),
    responses={
        **AUTH,
        **error_responses(
            InvalidInput,
            PlanNotFound,
            ObserverNotFound,
            PlanNotCommitted,
            PlanAlreadyDrawn,
            RevealTimeNotReached,
            RevealAfterBeaconRound,
            ObserverAlreadyRevealed,
        ),
    },
)
async def reveal_observer(
    plan_id: uuid.UUID,
    observer_id: uuid.UUID,
    body: RevealIn,
    session: DbSession,
    supervisor: Supervisor,
    request: Request,
) -> ObserverOut:
    observer = await service.reveal(session, plan_id, observer_id, body.value, body.salt, now=now_of(request))
    return observer_out(observer)


@router.post(
    "/plans/{plan_id}/draw",
    response_model=DrawRecordOut,
    summary="Draw (v3: from the observers' reveals, not before the reveal time); one task per assigned institution",
    description=(
        "A plan that named a beacon round at its commit needs `beacon_signature`, the round's signature as the "
        "beacon publishes it: refused before the round's time (409 `beacon_round_not_reached`) and unless it "
        "verifies against the beacon's public key (422 `beacon_signature_invalid`)."
    ),
    responses={
        **AUTH,
        **error_responses(
            InvalidInput,
            PlanNotFound,
            PlanNotCommitted,
            PlanAlreadyDrawn,
            RevealTimeNotReached,
            WitnessRevealsPending,
            NoWitnessRevealed,
            BeaconRoundNotReached,
        ),
    },
)
async def draw_plan(
    plan_id: uuid.UUID, body: DrawIn, session: DbSession, supervisor: Supervisor, request: Request
) -> DrawRecordOut:
    plan = await service.run(
        session,
        request.app.state.outbox,
        plan_id,
        body.witness_value,
        by=supervisor,
        now=now_of(request),
        beacon_signature=body.beacon_signature,
    )
    return await _record(session, plan)


@router.get(
    "/plans/{plan_id}/draw",
    response_model=DrawRecordOut,
    summary="Everything needed to recompute and verify the draw (server seed revealed after the draw)",
    description=AGENCY_NOTE,
    responses={**AGENCY_AUTH, **error_responses(PlanNotFound, PlanNotCommitted)},
)
async def get_draw(
    plan_id: uuid.UUID, session: DbSession, reader: DrawReader, request: Request
) -> DrawRecordOut | JSONResponse:
    view = _view(request, reader)
    view.require(DRAW_SOURCES)
    out = await _record(session, await service.get(session, plan_id))
    return out if view.full else JSONResponse(view.redact(out.model_dump(mode="json"), DRAW_SOURCES))


async def _record(session: DbSession, plan: Plan) -> DrawRecordOut:
    if plan.status == "draft":
        raise PlanNotCommitted("抽查计划尚未锁定名单，没有可核验的抽取记录")
    assert plan.commitment
    assert plan.institutions_hash
    assert plan.inspectors_hash
    assert plan.committed_at
    drawn = plan.status == "drawn"
    tasks = await repository.tasks_of_plan(session, plan.id) if drawn else []
    observers = (await repository.observers_of(session, [plan.id]))[plan.id]
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
        witness=witness_out(plan, observers),
        draw_seed=plan.draw_seed,
        result=plan.result,
        drawn_at=plan.drawn_at,
        tasks=[{"institution_id": str(t.institution_id), "task_id": str(t.id)} for t in tasks],
    )


# --- public (一公开) ----------------------------------------------------------------------------------------

PUBLIC_NOTE = (
    "No login. A plan is public once committed (scope, ratios, window, algorithm, commitment, list hashes, "
    "observers and reveal time); drafts are not. No personal data: observers by organisation, inspectors in the "
    "draw record by their platform id, a random pseudonym (docs/draw.md §3)."
)


def public_plan_out(plan: Plan, observers: list[PlanObserver]) -> PublicPlanOut:
    assert plan.commitment
    assert plan.institutions_hash
    assert plan.inspectors_hash
    assert plan.committed_at
    return PublicPlanOut(
        id=plan.id,
        name=plan.name,
        status="drawn" if plan.status == "drawn" else "committed",
        districts=list(plan.districts),
        operating_models=list(plan.operating_models),
        sampling_ratios=dict(plan.ratios),
        team_size=plan.team_size,
        window_start=plan.window_start,
        window_end=plan.window_end,
        algorithm=plan.algorithm,
        commitment=plan.commitment,
        institutions_hash=plan.institutions_hash,
        inspectors_hash=plan.inspectors_hash,
        committed_at=plan.committed_at,
        witness=witness_out(plan, observers),
        drawn_at=plan.drawn_at,
    )


async def _public_plan(session: DbSession, plan_id: uuid.UUID) -> Plan:
    plan = await repository.get(session, plan_id)
    if plan is None or plan.status == "draft":
        raise PlanNotFound()
    return plan


@router.get(
    "/public/plans",
    response_model=list[PublicPlanOut],
    tags=["public"],
    summary="一公开: committed and drawn random-inspection plans, newest first (public, no login)",
    description=PUBLIC_NOTE,
)
async def public_plans(session: DbSession) -> list[PublicPlanOut]:
    plans = await repository.public_plans(session)
    observers = await repository.observers_of(session, [p.id for p in plans])
    return [public_plan_out(p, observers[p.id]) for p in plans]


@router.get(
    "/public/plans/{plan_id}",
    response_model=PublicPlanOut,
    tags=["public"],
    summary="一公开: one committed plan with its commitment and witness sources (public, no login)",
    description=PUBLIC_NOTE,
    responses=error_responses(PlanNotFound),
)
async def public_plan(plan_id: uuid.UUID, session: DbSession) -> PublicPlanOut:
    plan = await _public_plan(session, plan_id)
    return public_plan_out(plan, (await repository.observers_of(session, [plan.id]))[plan.id])


@router.get(
    "/public/plans/{plan_id}/draw",
    response_model=DrawRecordOut,
    tags=["public"],
    summary="一公开: the full draw record once drawn, for tools/verify_draw.py (public, no login)",
    description=PUBLIC_NOTE + " Before the draw: 409 `plan_not_drawn`.",
    responses=error_responses(PlanNotFound, PlanNotDrawn),
)
async def public_draw(plan_id: uuid.UUID, session: DbSession) -> DrawRecordOut:
    plan = await _public_plan(session, plan_id)
    if plan.status != "drawn":
        raise PlanNotDrawn()
    return await _record(session, plan)
