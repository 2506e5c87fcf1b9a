"""Random-inspection plans and their verifiable draws (双随机).

draft (observers register their commitments) → commit (freeze and hash the candidate lists, publish
sha256(server_seed), the observers and the reveal time) → reveals (after the reveal time) → draw
(seed from the server seed and the revealed values; pure function in ``services.inspection.draw``) →
one task per assigned institution. Plans of v1/v2 (committed before v3) are drawn with a single
witness value. No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection import beacon as beacons
from services.inspection import draw as drawing
from services.inspection.errors import (
    BeaconRoundNotReached,
    NoWitnessRevealed,
    ObserverAlreadyRevealed,
    ObserverNotFound,
    ObserversRequired,
    PlanAlreadyCommitted,
    PlanAlreadyDrawn,
    PlanNotCommitted,
    PlanNotFound,
    RevealAfterBeaconRound,
    RevealTimeNotReached,
    WitnessRevealsPending,
)
from services.inspection.plans import repository
from services.inspection.plans.models import Plan, PlanObserver
from services.inspection.pool import repository as pool_repository
from services.inspection.reference import checklist
from services.inspection.tasks import service as tasks
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.events.inspection import (
    BeaconRound,
    PlanCommittedV2,
    PlanCreatedV1,
    PlanDrawnV2,
    WitnessObserver,
    WitnessReveal,
)
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


@dataclass(frozen=True)
class WitnessRules:
    """From the settings, fixed into each plan at its commit (docs/draw.md §1.1)."""

    reveal_delay: timedelta
    withheld_grace: timedelta
    min_observers: int
    beacon: beacons.BeaconChain  # the one beacon chain a plan may name (its published key and times)


@dataclass(frozen=True)
class BeaconRequest:
    """A beacon round named at the commit; ``round`` None: the first round not before the end of the grace
    period (``withheld_after``), so the observers have the whole grace period to reveal."""

    chain_hash: str
    round: int | None


async def add_observer(
    session: AsyncSession, plan_id: uuid.UUID, organisation: str, commitment: str, *, by: Principal, now: datetime
) -> PlanObserver:
    """Register an observer's commitment; only while the plan is a draft (before the commit closes)."""
    plan = await get(session, plan_id, lock=True)
    if plan.status != "draft":
        raise PlanAlreadyCommitted("名单已锁定，不能再登记监督员承诺值")
    existing = (await repository.observers_of(session, [plan.id]))[plan.id]
    if any(o.commitment == commitment for o in existing):
        raise InvalidInput("该承诺值已登记", code="commitment_taken", field="commitment")
    observer = PlanObserver(
        id=uuid.uuid4(),
        plan_id=plan.id,
        organisation=organisation,
        commitment=commitment,
        registered_by=by.subject,
        registered_at=now,
        withheld=False,
    )
    session.add(observer)
    await session.flush()
    return observer


async def reveal(
    session: AsyncSession, plan_id: uuid.UUID, observer_id: uuid.UUID, value: str, salt: str, *, now: datetime
) -> PlanObserver:
    """An observer's value and salt, accepted only after the plan's reveal time and only if they open
    the registered commitment. A plan that named a beacon round takes reveals only strictly before the
    round's time (docs/draw.md §1.2): once the round is public, whoever knows the server seed could
    compute the draw with and without a reveal, so a reveal could then be chosen."""
    plan = await get(session, plan_id, lock=True)
    if plan.status == "draft":
        raise PlanNotCommitted()
    if plan.status == "drawn":
        raise PlanAlreadyDrawn()
    observer = await repository.observer(session, plan.id, observer_id)
    if observer is None:
        raise ObserverNotFound()
    _require_reveal_time(plan, now)
    if observer.revealed_at is not None:
        raise ObserverAlreadyRevealed()
    if plan.beacon is not None:
        round_number = int(plan.beacon["round"])
        round_time = _beacon_chain(plan.beacon).round_time(round_number)
        if now >= round_time:
            raise RevealAfterBeaconRound(
                f"随机信标第 {round_number} 轮已于 {round_time.isoformat(timespec='seconds')} 产生，"
                "此后不再接受揭示见证值（未揭示的监督员按未揭示处理）",
                field="value",
            )
    if drawing.observer_commitment(value, salt) != observer.commitment:
        raise InvalidInput("见证值与盐值不能打开登记的承诺值", code="reveal_mismatch", field="value")
    observer.value = value
    observer.salt = salt
    observer.revealed_at = now
    await session.flush()
    return observer


def _require_reveal_time(plan: Plan, now: datetime) -> None:
    if plan.reveal_not_before is None or now < plan.reveal_not_before:
        at = plan.reveal_not_before.isoformat(timespec="seconds") if plan.reveal_not_before else "—"
        raise RevealTimeNotReached(f"未到揭示时间（{at}），不能揭示见证值或抽取")


async def commit(
    session: AsyncSession,
    outbox: Outbox,
    plan_id: uuid.UUID,
    *,
    by: Principal,
    now: datetime,
    rules: WitnessRules,
    beacon: BeaconRequest | None = None,
) -> Plan:
    """Freeze the candidate lists, hash them, publish the commitment to a fresh server seed and, for a
    v3 plan, its observers' commitments, its reveal time, the end of the grace period and the beacon
    round it names, if any."""
    plan = await get(session, plan_id, lock=True)
    if plan.status != "draft":
        raise PlanAlreadyCommitted()
    observers = (await repository.observers_of(session, [plan.id]))[plan.id]
    witnessed = plan.algorithm in drawing.WITNESSED
    if witnessed and len(observers) < rules.min_observers:
        raise ObserversRequired(f"锁定名单前须登记至少 {rules.min_observers} 名独立监督员的承诺值")
    reveal_not_before = now + rules.reveal_delay
    withheld_after = reveal_not_before + rules.withheld_grace
    declared_beacon: dict[str, Any] | None = None
    if beacon is not None:
        if not witnessed:
            raise InvalidInput("该计划的抽取算法不支持随机信标", code="beacon_not_supported", field="beacon")
        declared_beacon = _declare_beacon(rules.beacon, beacon, now, reveal_not_before, withheld_after)
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
    if witnessed:
        plan.reveal_not_before = reveal_not_before
        plan.withheld_after = withheld_after
        plan.beacon = declared_beacon
    await session.flush()
    await outbox.add(
        session,
        PlanCommittedV2(
            plan_id=plan.id,
            algorithm=plan.algorithm,
            commitment=plan.commitment,
            institutions_hash=plan.institutions_hash,
            inspectors_hash=plan.inspectors_hash,
            institution_count=len(institutions),
            inspector_count=len(inspectors),
            observers=[
                WitnessObserver(
                    observer_id=o.id,
                    organisation=o.organisation,
                    commitment=o.commitment,
                    registered_at=o.registered_at,
                )
                for o in observers
            ],
            reveal_not_before=plan.reveal_not_before,
            withheld_after=plan.withheld_after,
            beacon=BeaconRound.model_validate(plan.beacon) if plan.beacon else None,
            committed_at=now,
        ),
        subject=str(plan.id),
    )
    return plan


def _declare_beacon(
    chain: beacons.BeaconChain,
    request: BeaconRequest,
    committed_at: datetime,
    reveal_not_before: datetime,
    withheld_after: datetime,
) -> dict[str, Any]:
    """The beacon part of the record, fixed at the commit: the chain as configured (its published key)
    and a round produced strictly after the reveal time (and the commit) — reveals close at the round's
    time, so nobody knows its value while a reveal can still be made or withheld — and no later than
    the first round at or after the end of the grace period (the default), so the draw cannot be put
    off past the time the withheld-reveal rule already bounds by more than one beacon period."""
    if request.chain_hash != chain.chain_hash:
        raise InvalidInput(
            f"不是本平台配置的随机信标链（{chain.chain_hash[:16]}…）",
            code="beacon_chain_unknown",
            field="beacon.chain_hash",
        )
    latest = chain.first_round_at_or_after(withheld_after)
    round_number = request.round or latest
    round_time = chain.round_time(round_number)
    if round_time <= reveal_not_before or round_time <= committed_at:
        raise InvalidInput(
            f"随机信标第 {round_number} 轮产生于 {round_time.isoformat(timespec='seconds')}，早于揭示时间"
            f"（{reveal_not_before.isoformat(timespec='seconds')}）或与之相同，须指定揭示时间之后的轮次",
            code="beacon_round_too_early",
            field="beacon.round",
        )
    if round_number > latest:
        raise InvalidInput(
            f"随机信标第 {round_number} 轮产生于 {round_time.isoformat(timespec='seconds')}，晚于宽限期结束"
            f"（{withheld_after.isoformat(timespec='seconds')}）后的第一轮（第 {latest} 轮）",
            code="beacon_round_too_late",
            field="beacon.round",
        )
    return {
        **chain.as_record(),
        "round": round_number,
        "round_time": round_time.isoformat(),
        "signature": None,
        "randomness": None,
    }


def _beacon_chain(declared: dict[str, Any]) -> beacons.BeaconChain:
    return beacons.BeaconChain(
        chain_hash=declared["chain_hash"],
        public_key=declared["public_key"],
        genesis_time=int(declared["genesis_time"]),
        period_seconds=int(declared["period_seconds"]),
        scheme=declared["scheme"],
    )


# At most two BLS checks at a time per event loop: each holds a worker thread for up to ~2 s of pure
# Python, so a burst of draw requests must not take every thread of the default executor.
_BLS_CHECKS_AT_ONCE = 2
_bls_checks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _bls_check_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _bls_checks.get(loop)
    if slots is None:
        slots = _bls_checks[loop] = asyncio.Semaphore(_BLS_CHECKS_AT_ONCE)
    return slots


async def _accepted_beacon(
    session: AsyncSession, plan_id: uuid.UUID, signature: str | None, *, now: datetime
) -> dict[str, Any] | None:
    """The plan's beacon round with ``signature`` and its randomness, once the round's time has come and
    the signature verifies against the key fixed at the commit; None if the plan names no beacon.

    Runs before the plan's row is locked (a committed plan's beacon never changes) and verifies in a
    worker thread: the pairing check takes up to a couple of seconds of pure Python, which neither
    the event loop nor a concurrent request waiting for the lock should wait for. The cheap refusals
    (no such plan, not committed, already drawn, a signature for a plan without a beacon) come first,
    so a request that is refused anyway costs no pairing."""
    state = await repository.draw_state_of(session, plan_id)
    if state is None:
        raise PlanNotFound()
    status, declared = state
    if status == "draft":
        raise PlanNotCommitted()
    if status == "drawn":
        raise PlanAlreadyDrawn()
    if declared is None:
        if signature is not None:
            raise InvalidInput(
                "该计划未指定随机信标，不接受信标签名", code="beacon_signature_not_accepted", field="beacon_signature"
            )
        return None
    if signature is None:
        raise InvalidInput(
            f"该计划指定了随机信标第 {declared['round']} 轮，须提交该轮次的签名",
            code="beacon_signature_required",
            field="beacon_signature",
        )
    chain = _beacon_chain(declared)
    round_number = int(declared["round"])
    round_time = chain.round_time(round_number)
    if now < round_time:
        raise BeaconRoundNotReached(
            f"随机信标第 {round_number} 轮（{round_time.isoformat(timespec='seconds')}）尚未产生，不能抽取"
        )
    async with _bls_check_slots():
        valid = await asyncio.to_thread(beacons.signature_valid, chain, round_number, signature)
    if not valid:
        raise InvalidInput(
            f"该签名不是随机信标第 {round_number} 轮的有效签名（已用信标公钥核验），不能抽取",
            code="beacon_signature_invalid",
            field="beacon_signature",
        )
    return {**declared, "signature": signature, "randomness": beacons.randomness(signature)}


def parameters(plan: Plan) -> dict[str, Any]:
    return {"ratios": dict(plan.ratios), "team_size": plan.team_size}


async def run(
    session: AsyncSession,
    outbox: Outbox,
    plan_id: uuid.UUID,
    witness_value: str | None,
    *,
    by: Principal,
    now: datetime,
    beacon_signature: str | None = None,
) -> Plan:
    """The draw with the plan's own algorithm (plans keep the one they were created with, so their
    published records verify). v3: not before the reveal time; the seed combines the server seed and
    every revealed value; an observer that has not revealed blocks the draw until the grace period
    ends, after which the draw proceeds without it and records it as withheld (with a beacon round,
    reveals close at the round's time, before which the draw is refused anyway: an observer that has
    not revealed by then is withheld). v1/v2: the seed comes
    from the server seed and the single witness value. A plan that named a beacon round at its commit
    also needs that round's signature, valid under the beacon's key; its randomness joins the seed."""
    beacon = await _accepted_beacon(session, plan_id, beacon_signature, now=now)
    plan = await get(session, plan_id, lock=True)
    if plan.status == "draft":
        raise PlanNotCommitted()
    if plan.status == "drawn":
        raise PlanAlreadyDrawn()
    assert plan.server_seed is not None
    assert plan.institutions is not None
    assert plan.inspectors is not None
    if beacon_signature is not None and plan.beacon is None:
        raise InvalidInput(
            "该计划未指定随机信标，不接受信标签名", code="beacon_signature_not_accepted", field="beacon_signature"
        )
    if plan.beacon is not None and beacon is None:  # committed with a beacon after the check above began
        raise InvalidInput(
            "该计划指定了随机信标，须提交该轮次的签名", code="beacon_signature_required", field="beacon_signature"
        )
    reveals: list[WitnessReveal] = []
    withheld: list[uuid.UUID] = []
    if plan.algorithm in drawing.WITNESSED:
        if witness_value is not None:
            raise InvalidInput(
                "该计划的见证值来自监督员的揭示，不接受单一见证值",
                code="witness_value_not_accepted",
                field="witness_value",
            )
        _require_reveal_time(plan, now)
        observers = (await repository.observers_of(session, [plan.id]))[plan.id]
        pending = [o for o in observers if o.revealed_at is None]
        assert plan.withheld_after is not None
        # without a beacon, reveals stay open until the draw; with one they closed at its round's time,
        # which ``_accepted_beacon`` has already seen pass
        reveals_closed = beacon is not None or now >= plan.withheld_after
        if pending and not reveals_closed:
            raise WitnessRevealsPending(
                f"尚有 {len(pending)} 名监督员未揭示见证值，"
                f"宽限期（至 {plan.withheld_after.isoformat(timespec='seconds')}）结束前不能抽取"
            )
        for o in pending:
            o.withheld = True
            withheld.append(o.id)
        revealed = [o for o in observers if o.revealed_at is not None]
        if not revealed:
            raise NoWitnessRevealed()
        for o in revealed:
            assert o.value is not None
            assert o.salt is not None
            assert o.revealed_at is not None
            reveals.append(WitnessReveal(observer_id=o.id, value=o.value, salt=o.salt, revealed_at=o.revealed_at))
        plan.witness_digest = drawing.witness_digest([{"id": str(o.id), "value": str(o.value)} for o in revealed])
        if beacon is not None:
            plan.beacon = beacon
        seed = drawing.draw_seed_v3(plan.server_seed, plan.witness_digest, beacon["randomness"] if beacon else None)
    else:
        if witness_value is None:
            raise InvalidInput("见证值不能为空", code="witness_empty", field="witness_value")
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
        PlanDrawnV2(
            plan_id=plan.id,
            server_seed=plan.server_seed,
            witness_value=witness_value,
            reveals=reveals,
            withheld=withheld,
            witness_digest=plan.witness_digest,
            beacon=BeaconRound.model_validate(plan.beacon) if plan.beacon else None,
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
