"""Credit domain logic (诚信档案): records, entries, (re-)evaluation, lists and bans, repair, policy change.

A subject's grade is never updated incrementally: after every change it is recomputed from all its
entries under the policy in force, as of the service clock (``CreditEnv.now``). That makes the final
state independent of the order events arrive in, lets entries expire without any event (the periodic
re-evaluation), and makes a replay into an empty database reproduce the live state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.errors import (
    EntryNotCounting,
    EntryNotFound,
    PolicyAlreadyActive,
    PolicyNotFound,
    RepairAlreadyDecided,
    RepairExists,
    RepairNotFound,
    RepairTooEarly,
    RuleNotRepairable,
    SubjectNotFound,
)
from services.credit.models import (
    CreditEntry,
    CreditGradeHistory,
    CreditListMembership,
    CreditPolicyActivation,
    CreditRepair,
    CreditStanding,
    CreditSubject,
)
from services.credit.policy import ListName, Policy, PolicyRegistry
from services.credit.scoring import EntryInput, Evaluation, evaluate
from shared.events.credit import (
    CreditListEnteredV1,
    CreditListLeftV1,
    CreditRecordOpenedV1,
    InstitutionGradedV1,
    PersonBanLiftedV1,
    PersonBannedV1,
)
from shared.outbox import Outbox

Clock = Callable[[], datetime]
BEIJING = ZoneInfo("Asia/Shanghai")
# Entry ids are a function of (subject, rule, source): the same facts give the same ids on replay.
ENTRY_NAMESPACE = uuid.UUID("6f1c4a52-3f0e-4d8e-9d55-2b8f6a1c0c11")


@dataclass(frozen=True)
class CreditEnv:
    """What credit logic needs besides the session: every policy version, the default, the clock."""

    registry: PolicyRegistry
    default_version: str
    now: Clock


@dataclass(frozen=True)
class Source:
    """The event an entry or a record comes from."""

    event_id: str
    event_type: str


def beijing_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING)


def entry_id_for(kind: str, subject_id: str, rule_id: str, source_key: str) -> uuid.UUID:
    return uuid.uuid5(ENTRY_NAMESPACE, f"{kind}|{subject_id}|{rule_id}|{source_key}")


async def active_policy(session: AsyncSession, env: CreditEnv) -> Policy:
    activation = await repository.latest_activation(session)
    version = activation.version if activation is not None else env.default_version
    policy = env.registry.get(version)
    if policy is None:  # the settings name a version that is not shipped: a deployment error
        raise RuntimeError(f"policy version {version} is not available")
    return policy


# --- records and entries --------------------------------------------------------------------------


async def open_record(
    session: AsyncSession,
    outbox: Outbox,
    *,
    kind: str,
    subject_id: str,
    at: datetime,
    source: Source,
    display_name: str | None = None,
    district_code: str | None = None,
) -> bool:
    """Open the subject's record (or fold a later/earlier event into it). True if it was new."""
    inserted = await repository.upsert_subject(
        session,
        kind=kind,
        subject_id=subject_id,
        at=at,
        event_id=source.event_id,
        display_name=display_name,
        district_code=district_code,
        profile_at=at if display_name is not None else None,
    )
    if inserted:
        await outbox.add(
            session,
            CreditRecordOpenedV1(
                subject_kind="institution" if kind == "institution" else "person",
                subject_id=subject_id,
                opened_at=at,
                cause_event_id=source.event_id,
            ),
            subject=subject_id,
            at=at,
        )
    return inserted


async def mark_deregistered(session: AsyncSession, institution_id: str, at: datetime) -> None:
    await repository.mark_deregistered(session, "institution", institution_id, at)


async def record_entry(
    session: AsyncSession,
    env: CreditEnv,
    policy: Policy,
    *,
    kind: str,
    subject_id: str,
    rule_id: str,
    source_key: str,
    source: Source,
    effective_from: datetime,
    detail_zh: str,
    legal_basis: str | None = None,
) -> bool:
    """Append an entry once per (subject, rule, source fact); False if it was already there or the
    policy does not apply the rule to this kind of subject."""
    rule = policy.rules[rule_id]
    if kind not in rule.applies_to:
        return False
    return await repository.insert_entry_if_absent(
        session,
        CreditEntry(
            id=entry_id_for(kind, subject_id, rule_id, source_key),
            subject_kind=kind,
            subject_id=subject_id,
            rule_id=rule_id,
            policy_version=policy.version,
            points=rule.points,
            source_key=source_key,
            source_event_id=source.event_id,
            source_event_type=source.event_type,
            effective_from=effective_from,
            counts_until=rule.counts_until(effective_from),
            legal_basis=legal_basis or rule.legal_basis,
            detail_zh=detail_zh,
            recorded_at=env.now(),
        ),
    )


async def entry_inputs(session: AsyncSession, kind: str, subject_id: str) -> list[EntryInput]:
    entries = await repository.entries_of(session, kind, subject_id)
    repaired = {
        r.entry_id: r.decided_at
        for r in await repository.repairs_of(session, kind, subject_id)
        if r.status == "approved" and r.decided_at is not None
    }
    return [
        EntryInput(
            entry_id=str(e.id),
            rule_id=e.rule_id,
            effective_from=e.effective_from,
            source_event_id=e.source_event_id,
            source_event_type=e.source_event_type,
            detail_zh=e.detail_zh,
            legal_basis=e.legal_basis,
            repaired_at=repaired.get(e.id),
        )
        for e in entries
    ]


# --- evaluation -----------------------------------------------------------------------------------


async def reevaluate(
    session: AsyncSession,
    outbox: Outbox,
    env: CreditEnv,
    *,
    kind: str,
    subject_id: str,
    reason: str,
    policy: Policy | None = None,
) -> Evaluation | None:
    """Recompute one subject from its entries and publish what changed: the grade (institutions:
    ``InstitutionGradedV1``, only on a change or when first set) and list membership (entered/left,
    bans). Under a new policy version a history row is kept even when the grade stays the same.
    A subject without any entry is not graded yet."""
    subject = await repository.lock_subject(session, kind, subject_id)
    if subject is None:
        return None
    # Read after the lock: an activation committed meanwhile is seen (READ COMMITTED).
    policy = policy or await active_policy(session, env)
    as_of = env.now()
    inputs = await entry_inputs(session, kind, subject_id)
    result = evaluate(inputs, policy, as_of)
    standing = await repository.standing_of(session, kind, subject_id)
    if standing is None and not inputs:
        # No credit information yet (a record opened by filing alone): not graded (未评级). The first
        # grade is set, and published, with the first entry.
        return result
    previous = standing.grade if standing is not None else None
    changed = previous != result.grade
    if standing is None:
        session.add(
            CreditStanding(
                subject_kind=kind,
                subject_id=subject_id,
                policy_version=policy.version,
                score=result.score,
                grade=result.grade,
                graded_at=as_of,
                evaluated_at=as_of,
            )
        )
    if changed or standing is None or standing.policy_version != policy.version:
        session.add(
            CreditGradeHistory(
                subject_kind=kind,
                subject_id=subject_id,
                policy_version=policy.version,
                grade=result.grade,
                previous_grade=previous,
                score=result.score,
                graded_at=as_of,
                reason=reason,
            )
        )
    if standing is not None:
        standing.policy_version = policy.version
        standing.score = result.score
        standing.evaluated_at = as_of
        if changed:
            standing.grade = result.grade
            standing.graded_at = as_of
    if changed and kind == "institution":
        await outbox.add(
            session,
            InstitutionGradedV1(
                institution_id=uuid.UUID(subject_id),
                grade=result.grade,
                previous_grade=previous,
                score=float(result.score),
                policy_version=policy.version,
                graded_at=as_of,
                reason=reason,
            ),
            subject=subject_id,
            at=as_of,
        )
    await _sync_lists(session, outbox, policy, subject, result)
    await session.flush()
    return result


async def _sync_lists(
    session: AsyncSession, outbox: Outbox, policy: Policy, subject: CreditSubject, result: Evaluation
) -> None:
    kind, subject_id, as_of = subject.subject_kind, subject.subject_id, result.as_of
    current = {m.list_name: m for m in await repository.current_memberships_of(session, kind, subject_id)}
    for list_name, status in result.lists.items():
        membership = current.get(list_name)
        definition = policy.lists[list_name]
        if membership is not None:
            membership.until = status.until  # a later cause can extend the stay
            continue
        entries = {e.entry_id: e for e in result.lines if e.entry_id is not None}
        entered_at = min(
            (line.effective_from for i in status.cause_entry_ids if (line := entries[i]).effective_from is not None),
            default=as_of,
        )
        session.add(
            CreditListMembership(
                list_name=list_name,
                subject_kind=kind,
                subject_id=subject_id,
                reason=status.reason_zh,
                legal_basis=definition.legal_basis,
                entered_at=entered_at,
                until=status.until,
                cause_entry_ids=list(status.cause_entry_ids),
            )
        )
        until_day = status.until.astimezone(BEIJING).date() if status.until is not None else None
        await outbox.add(
            session,
            CreditListEnteredV1(
                list_name=list_name,
                subject_kind="institution" if kind == "institution" else "person",
                subject_id=subject_id,
                reason=status.reason_zh,
                legal_basis=definition.legal_basis,
                entered_at=entered_at,
                until=until_day,
            ),
            subject=subject_id,
            at=as_of,
        )
        if list_name == "industry_ban" and kind == "person":
            cause = entries[status.cause_entry_ids[0]]
            await outbox.add(
                session,
                PersonBannedV1(
                    person_ref=subject_id,
                    reason=status.reason_zh,
                    legal_basis=cause.legal_basis or definition.legal_basis,
                    banned_at=entered_at,
                    until=until_day,
                    cause_event_id=cause.source_event_id or "",
                ),
                subject=subject_id,
                at=as_of,
            )
    for stored_name, membership in current.items():
        if stored_name in result.lists:
            continue
        list_name = _list(stored_name)
        reason = f"列入{policy.lists[list_name].title_zh}的原因已届满或已修复"
        membership.left_at = as_of
        membership.left_reason = reason
        await outbox.add(
            session,
            CreditListLeftV1(
                list_name=list_name,
                subject_kind="institution" if kind == "institution" else "person",
                subject_id=subject_id,
                reason=reason,
                left_at=as_of,
            ),
            subject=subject_id,
            at=as_of,
        )
        if list_name == "industry_ban" and kind == "person":
            await outbox.add(
                session, PersonBanLiftedV1(person_ref=subject_id, lifted_at=as_of, reason=reason), subject=subject_id
            )


def _list(name: str) -> ListName:
    return "industry_ban" if name == "industry_ban" else "serious_dishonesty"


# --- credit repair (信用修复) ---------------------------------------------------------------------


async def apply_for_repair(
    session: AsyncSession,
    env: CreditEnv,
    *,
    entry_id: uuid.UUID,
    evidence_sha256: list[str],
    commitment_zh: str,
    applied_by: str,
) -> CreditRepair:
    entry = await repository.find_entry(session, entry_id)
    if entry is None:
        raise EntryNotFound(field="entry_id")
    policy = await active_policy(session, env)
    rule = policy.rules.get(entry.rule_id)
    if rule is None or not rule.repairable:
        raise RuleNotRepairable(
            f"“{rule.title_zh if rule else entry.rule_id}”依规则不予信用修复（{rule.legal_basis if rule else ''}）",
            field="entry_id",
        )
    now = env.now()
    until = rule.counts_until(entry.effective_from)
    if entry.effective_from > now or (until is not None and until <= now):
        raise EntryNotCounting(field="entry_id")
    earliest = rule.repairable_from(entry.effective_from)
    if now < earliest:
        raise RepairTooEarly(
            f"最短公示期未满，{earliest.astimezone(BEIJING).date().isoformat()}起方可申请信用修复", field="entry_id"
        )
    if await repository.active_repair_for_entry(session, entry_id) is not None:
        raise RepairExists(field="entry_id")
    repair = CreditRepair(
        id=uuid.uuid4(),
        entry_id=entry_id,
        subject_kind=entry.subject_kind,
        subject_id=entry.subject_id,
        status="pending",
        evidence_sha256=evidence_sha256,
        commitment_zh=commitment_zh,
        applied_by=applied_by,
        applied_at=now,
    )
    session.add(repair)
    await session.flush()
    return repair


async def decide_repair(
    session: AsyncSession,
    outbox: Outbox,
    env: CreditEnv,
    *,
    repair_id: uuid.UUID,
    approve: bool,
    reason: str,
    decided_by: str,
) -> CreditRepair:
    """Approve or refuse; an approval stops the entry counting from the decision on."""
    repair = await repository.lock_repair(session, repair_id)
    if repair is None:
        raise RepairNotFound()
    if repair.status != "pending":
        raise RepairAlreadyDecided()
    repair.status = "approved" if approve else "refused"
    repair.decided_by = decided_by
    repair.decided_at = env.now()
    repair.decision_reason = reason
    await session.flush()
    if approve:
        await reevaluate(
            session, outbox, env, kind=repair.subject_kind, subject_id=repair.subject_id, reason=f"信用修复：{reason}"
        )
    return repair


async def get_repair(session: AsyncSession, repair_id: uuid.UUID) -> CreditRepair:
    repair = await repository.find_repair(session, repair_id)
    if repair is None:
        raise RepairNotFound()
    return repair


# --- policy versions ------------------------------------------------------------------------------


async def activate_policy(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, *, version: str, activated_by: str
) -> int:
    """Put a policy version in force and re-grade every subject under it; returns how many grades
    changed. One transaction: either every subject moves to the new version or none does."""
    policy = env.registry.get(version)
    if policy is None:
        raise PolicyNotFound(field="version")
    await repository.lock_activations(session)
    current = await active_policy(session, env)
    if current.version == version:
        raise PolicyAlreadyActive(field="version")
    session.add(CreditPolicyActivation(version=version, activated_by=activated_by, activated_at=env.now()))
    await session.flush()
    changed = 0
    after: tuple[str, str] | None = None
    while True:
        keys = await repository.list_subject_keys(session, after=after, limit=500)
        if not keys:
            break
        for kind, subject_id in keys:
            standing = await repository.standing_of(session, kind, subject_id)
            before = standing.grade if standing is not None else None
            result = await reevaluate(
                session,
                outbox,
                env,
                kind=kind,
                subject_id=subject_id,
                reason=f"信用评价规则变更：{current.version}→{version}",
                policy=policy,
            )
            if result is not None and result.grade != before:
                changed += 1
        after = keys[-1]
    return changed


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordView:
    subject: CreditSubject
    policy: Policy
    evaluation: Evaluation
    standing: CreditStanding | None
    memberships: list[CreditListMembership]
    history: list[CreditGradeHistory]
    repairs: list[CreditRepair]
    graded: bool  # False until the first entry: 未评级


async def get_record(session: AsyncSession, env: CreditEnv, kind: str, subject_id: str) -> RecordView:
    """The full record, explained as of now under the policy in force (the lines sum to the score)."""
    subject = await repository.find_subject(session, kind, subject_id)
    if subject is None:
        raise SubjectNotFound()
    policy = await active_policy(session, env)
    inputs = await entry_inputs(session, kind, subject_id)
    standing = await repository.standing_of(session, kind, subject_id)
    return RecordView(
        subject=subject,
        policy=policy,
        evaluation=evaluate(inputs, policy, env.now()),
        standing=standing,
        graded=standing is not None or bool(inputs),
        memberships=list(await repository.current_memberships_of(session, kind, subject_id)),
        history=list(await repository.history_of(session, kind, subject_id)),
        repairs=list(await repository.repairs_of(session, kind, subject_id)),
    )


@dataclass(frozen=True)
class PublicView:
    institution_id: str
    grade: str | None
    graded_at: datetime | None
    policy_version: str | None
    lists: list[str]


async def get_public(session: AsyncSession, institution_id: str) -> PublicView:
    subject = await repository.find_subject(session, "institution", institution_id)
    if subject is None:
        raise SubjectNotFound()
    standing = await repository.standing_of(session, "institution", institution_id)
    memberships = await repository.current_memberships_of(session, "institution", institution_id)
    return PublicView(
        institution_id=institution_id,
        grade=standing.grade if standing else None,
        graded_at=standing.graded_at if standing else None,
        policy_version=standing.policy_version if standing else None,
        lists=[m.list_name for m in memberships],
    )


async def list_members(session: AsyncSession, list_name: str) -> list[CreditListMembership]:
    return list(await repository.current_members(session, list_name))


async def display_names(session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return await repository.display_names(session, keys)


async def policy_versions(session: AsyncSession, env: CreditEnv) -> tuple[list[Policy], str]:
    active = await active_policy(session, env)
    return [p for v in env.registry.versions() if (p := env.registry.get(v)) is not None], active.version
