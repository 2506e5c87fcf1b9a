"""(Re-)evaluation. A subject's grade is never updated incrementally: after every change its whole
timeline (grade history, list stays, current standing) is recomputed from its facts — entries,
approved repairs, policy activations, each dated by its own timestamp — up to the service clock
(``CreditEnv.now``). That makes the state independent of the order events arrive in, lets entries
expire without any event (the periodic re-evaluation), and makes a replay into an empty database
reproduce the live state. Also here: putting a policy version in force (it re-grades everyone;
published as ``CreditPolicyActivatedV1`` and read back by the credit consumer) and the record read
back, explained under the policy in force.

No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.env import BEIJING, CreditEnv
from services.credit.errors import (
    PolicyAlreadyActive,
    PolicyNotFound,
    ReplayConflict,
    SubjectNotFound,
)
from services.credit.evaluation import timeline
from services.credit.evaluation.scoring import EntryInput, Evaluation, evaluate
from services.credit.models import (
    CreditEntry,
    CreditGradeHistory,
    CreditListMembership,
    CreditPolicyActivation,
    CreditRepair,
    CreditStanding,
    CreditSubject,
)
from services.credit.policy.documents import ListName, Policy, policy_at
from services.credit.policy.service import POLICY_KEY, active_policy, default_policy, policy_activations
from services.credit.records.service import Announcement, announce, announced, write_staged
from shared.events.credit import (
    CreditListEnteredV1,
    CreditListLeftV1,
    CreditPolicyActivatedV1,
    InstitutionGradedV1,
    InstitutionRescoredV1,
    PersonBanLiftedV1,
    PersonBannedV1,
)
from shared.outbox import Outbox


async def subject_facts(session: AsyncSession, kind: str, subject_id: str) -> tuple[list[EntryInput], dict[str, str]]:
    """The subject's entries (with the time an approved repair took effect) and the reasons given for
    those repairs, by entry id."""
    entries = await repository.entries_of(session, kind, subject_id)
    return facts_from_rows(entries, await repository.repairs_of(session, kind, subject_id))


def facts_from_rows(
    entries: Sequence[CreditEntry], repairs: Sequence[CreditRepair]
) -> tuple[list[EntryInput], dict[str, str]]:
    """``subject_facts`` from the subject's rows however they were read (the bulk rebuild holds them
    in memory): entries in (effective_from, id) order, with the time an approved repair took effect."""
    approved = [r for r in repairs if r.status == "approved" and r.decided_at]
    repaired = {r.entry_id: r.decided_at for r in approved}
    inputs = [
        EntryInput(
            entry_id=str(e.id),
            rule_id=e.rule_id,
            subject_kind=e.subject_kind,
            effective_from=e.effective_from,
            source_event_id=e.source_event_id,
            source_event_type=e.source_event_type,
            detail_zh=e.detail_zh,
            legal_basis=e.legal_basis,
            repaired_at=repaired.get(e.id),
        )
        for e in entries
    ]
    return inputs, {str(r.entry_id): r.decision_reason or "" for r in approved}


async def entry_inputs(session: AsyncSession, kind: str, subject_id: str) -> list[EntryInput]:
    return (await subject_facts(session, kind, subject_id))[0]


async def reevaluate(
    session: AsyncSession,
    outbox: Outbox,
    env: CreditEnv,
    *,
    kind: str,
    subject_id: str,
    flush: bool = True,
) -> Evaluation | None:
    """Recompute one subject from its facts and publish what changed.

    The stored standing, grade history and list stays are made equal to ``timeline.build`` of the
    subject's entries, approved repairs and the policy activations, up to ``env.now()``: history rows
    and list entries/exits are dated when they happened, so the result does not depend on the order
    events arrived in (a late fact rewrites the part of the history after it). Published: the grade
    (institutions: ``InstitutionGradedV1``, only when the current grade changes or is first set) and
    current list membership (entered/left, bans). A subject without an effective entry is not graded.

    ``flush=False`` leaves the standing and history rows to the caller's flush (``reevaluate_many``:
    one flush writes every subject's rows with one statement per table instead of one per row)."""
    await write_staged(session)  # this batch's subjects and entries, before they are read
    subject = await repository.lock_subject(session, kind, subject_id)
    if subject is None:
        return None
    # Read after the lock: an activation committed meanwhile is seen (READ COMMITTED).
    default, activations = default_policy(env), await policy_activations(session, env)
    as_of = env.now()
    inputs, repair_reasons = await subject_facts(session, kind, subject_id)
    line = timeline.build(inputs, default, activations, repair_reasons, as_of)
    standing = await repository.standing_of(session, kind, subject_id)
    if line is None:
        # No credit information yet (a record opened by filing alone): not graded (未评级). The first
        # grade is set, and published, with the first entry.
        return evaluate(inputs, policy_at(default, activations, as_of), as_of)
    result = line.current
    standing_before = (standing.grade, standing.score, standing.policy_version) if standing is not None else None
    if standing is None:
        session.add(
            CreditStanding(
                subject_kind=kind,
                subject_id=subject_id,
                policy_version=result.policy_version,
                score=result.score,
                grade=result.grade,
                graded_at=line.graded_at,
                evaluated_at=as_of,
            )
        )
    else:
        standing.policy_version = result.policy_version
        standing.score = result.score
        standing.grade = result.grade
        standing.graded_at = line.graded_at
        standing.evaluated_at = as_of
    await _sync_history(session, kind, subject_id, line, flush=flush)
    grade = grade_announcement(kind, subject_id, standing_before, line, as_of)
    if grade is not None:
        await announce(session, outbox, [grade])
    await _sync_lists(session, outbox, subject, line, inputs, as_of)
    if flush:
        await session.flush()
    return result


def grade_announcement(
    kind: str, subject_id: str, before: tuple[str, int, str] | None, line: timeline.Timeline, as_of: datetime
) -> Announcement | None:
    """What an evaluation announces about the grade, given the standing before it (grade, score,
    policy version; None for a first grade): institutions only — the grade when it changes or is
    first set (``InstitutionGradedV1``), else the score when it or the policy changed."""
    if kind != "institution":
        return None
    result = line.current
    previous = before[0] if before is not None else None
    if previous != result.grade:
        return Announcement(
            InstitutionGradedV1(
                institution_id=uuid.UUID(subject_id),
                grade=result.grade,
                previous_grade=previous,
                score=float(result.score),
                policy_version=result.policy_version,
                # When it was published (monotonic per institution: consumers keep the latest).
                graded_at=as_of,
                reason=line.history[-1].reason,
            ),
            subject_id,
            as_of,
            announced(result.grade, line.graded_at),
        )
    if before is not None and (before[1] != result.score or before[2] != result.policy_version):
        # Same grade, other score (or policy): consumers showing the score must hear of it too.
        return Announcement(
            InstitutionRescoredV1(
                institution_id=uuid.UUID(subject_id),
                grade=result.grade,
                score=float(result.score),
                previous_score=float(before[1]),
                policy_version=result.policy_version,
                scored_at=as_of,
                reason=line.scored_reason,
            ),
            subject_id,
            as_of,
            announced(f"{result.grade}/{result.score}/{result.policy_version}", line.scored_at),
        )
    return None


async def reevaluate_many(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, keys: Sequence[tuple[str, str]]
) -> None:
    """``reevaluate`` each (kind, subject id) in turn, their rows read for all of them up front (one
    statement per table instead of six per subject, and written with one flush at the end). The
    same results as one call per subject."""
    await write_staged(session)
    await repository.prefetch(session, keys)
    try:
        for kind, subject_id in keys:
            await reevaluate(session, outbox, env, kind=kind, subject_id=subject_id, flush=False)
    finally:
        repository.forget_prefetch(session)
    await session.flush()


def _history_key(row: CreditGradeHistory | timeline.HistoryPoint) -> tuple[object, ...]:
    return (row.graded_at, row.policy_version, row.grade, row.previous_grade, row.score, row.reason)


async def _sync_history(
    session: AsyncSession, kind: str, subject_id: str, line: timeline.Timeline, *, flush: bool
) -> None:
    """Keep the common prefix, replace the rest (normally: append the new points)."""
    stored = list(await repository.history_of(session, kind, subject_id))
    same = 0
    while same < min(len(stored), len(line.history)) and _history_key(stored[same]) == _history_key(line.history[same]):
        same += 1
    await repository.delete_history(session, [row.id for row in stored[same:]])
    for point in line.history[same:]:
        session.add(
            CreditGradeHistory(
                subject_kind=kind,
                subject_id=subject_id,
                policy_version=point.policy_version,
                grade=point.grade,
                previous_grade=point.previous_grade,
                score=point.score,
                graded_at=point.graded_at,
                reason=point.reason,
            )
        )
    if flush:
        await session.flush()


async def _sync_lists(
    session: AsyncSession,
    outbox: Outbox,
    subject: CreditSubject,
    line: timeline.Timeline,
    inputs: list[EntryInput],
    as_of: datetime,
) -> None:
    """Make the stored stays equal to the timeline's; publish entering and leaving of current lists."""
    kind, subject_id = subject.subject_kind, subject.subject_id
    stored = list(await repository.memberships_of(session, kind, subject_id))
    was_current = {m.list_name for m in stored if m.left_at is None}
    wanted = {(s.list_name, s.entered_at): s for s in line.stays}
    if not stored and not wanted:
        return  # never on a list: nothing to write or publish (and no flush of others' rows)
    by_key = {(m.list_name, m.entered_at): m for m in stored}
    await repository.delete_memberships(session, [m.id for k, m in by_key.items() if k not in wanted])
    # Close stays first, so the one-current-stay-per-list index never sees two at once.
    for closing in (True, False):
        for key, stay in wanted.items():
            membership = by_key.get(key)
            if membership is None or (stay.left_at is not None) != closing:
                continue
            membership.until = stay.until
            membership.reason = stay.reason
            membership.legal_basis = stay.legal_basis
            membership.cause_entry_ids = list(stay.cause_entry_ids)
            membership.left_at = stay.left_at
            membership.left_reason = stay.left_reason
        await session.flush()
    for key, stay in wanted.items():
        if key not in by_key:
            session.add(
                CreditListMembership(
                    list_name=stay.list_name,
                    subject_kind=kind,
                    subject_id=subject_id,
                    reason=stay.reason,
                    legal_basis=stay.legal_basis,
                    entered_at=stay.entered_at,
                    until=stay.until,
                    cause_entry_ids=list(stay.cause_entry_ids),
                    left_at=stay.left_at,
                    left_reason=stay.left_reason,
                )
            )
    await session.flush()

    await announce(session, outbox, list_announcements(kind, subject_id, was_current, line, inputs, as_of))


def list_announcements(
    kind: str,
    subject_id: str,
    was_current: set[str],
    line: timeline.Timeline,
    inputs: list[EntryInput],
    as_of: datetime,
) -> list[Announcement]:
    """Entering and leaving of current lists (and a person's industry ban), given the lists the
    subject was current on before the evaluation."""
    out: list[Announcement] = []
    subject_kind: Literal["institution", "person"] = "institution" if kind == "institution" else "person"
    current = {s.list_name: s for s in line.stays if s.left_at is None}
    entries = {e.entry_id: e for e in inputs}
    for list_name, stay in current.items():
        if list_name in was_current:
            continue
        until_day = stay.until.astimezone(BEIJING).date() if stay.until is not None else None
        out.append(
            Announcement(
                CreditListEnteredV1(
                    list_name=list_name,
                    subject_kind=subject_kind,
                    subject_id=subject_id,
                    reason=stay.reason,
                    legal_basis=stay.legal_basis,
                    entered_at=stay.entered_at,
                    until=until_day,
                ),
                subject_id,
                as_of,
                announced(list_name, stay.entered_at),
            )
        )
        if list_name == "industry_ban" and kind == "person":
            cause = entries[stay.cause_entry_ids[0]]
            out.append(
                Announcement(
                    PersonBannedV1(
                        person_ref=subject_id,
                        reason=stay.reason,
                        legal_basis=cause.legal_basis or stay.legal_basis,
                        banned_at=stay.entered_at,
                        until=until_day,
                        cause_event_id=cause.source_event_id,
                    ),
                    subject_id,
                    as_of,
                    announced(list_name, stay.entered_at),
                )
            )
    for stored_name in sorted(was_current - set(current)):
        list_name = _list(stored_name)
        left = [s for s in line.stays if s.list_name == list_name and s.left_at is not None]
        left_at = max((s.left_at for s in left if s.left_at is not None), default=as_of)
        reason = next((s.left_reason for s in left if s.left_at == left_at and s.left_reason), "列入名单的原因已消除")
        out.append(
            Announcement(
                CreditListLeftV1(
                    list_name=list_name,
                    subject_kind=subject_kind,
                    subject_id=subject_id,
                    reason=reason,
                    left_at=left_at,
                ),
                subject_id,
                as_of,
                announced(list_name, left_at),
            )
        )
        if list_name == "industry_ban" and kind == "person":
            out.append(
                Announcement(
                    PersonBanLiftedV1(person_ref=subject_id, lifted_at=left_at, reason=reason),
                    subject_id,
                    None,
                    announced(list_name, left_at),
                )
            )
    return out


def _list(name: str) -> ListName:
    return "industry_ban" if name == "industry_ban" else "serious_dishonesty"


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
    now = env.now()
    session.add(CreditPolicyActivation(version=version, activated_by=activated_by, activated_at=now))
    await session.flush()
    await outbox.add(
        session,
        CreditPolicyActivatedV1(version=version, activated_by=activated_by, activated_at=now),
        subject=POLICY_KEY,
        at=now,
    )
    return await _reevaluate_everyone(session, outbox, env)


async def _reevaluate_everyone(session: AsyncSession, outbox: Outbox, env: CreditEnv) -> int:
    changed = 0
    after: tuple[str, str] | None = None
    while True:
        keys = await repository.list_subject_keys(session, after=after, limit=500)
        if not keys:
            break
        for kind, subject_id in keys:
            standing = await repository.standing_of(session, kind, subject_id)
            before = standing.grade if standing is not None else None
            result = await reevaluate(session, outbox, env, kind=kind, subject_id=subject_id)
            if result is not None and result.grade != before:
                changed += 1
        after = keys[-1]
    return changed


def check_activation(env: CreditEnv, data: CreditPolicyActivatedV1) -> None:
    """An activation read back names a version this service ships, or it cannot be replayed."""
    if env.registry.get(data.version) is None:
        raise ReplayConflict(f"policy version {data.version} is not available")


async def record_policy_activation(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, data: CreditPolicyActivatedV1
) -> bool:
    """True if the activation was not known yet: recorded at its own time, every subject re-graded."""
    await write_staged(session)  # earlier events of this batch first, in their order
    check_activation(env, data)
    await repository.lock_activations(session)
    if await repository.find_activation(session, data.version, data.activated_at) is not None:
        return False
    session.add(
        CreditPolicyActivation(version=data.version, activated_by=data.activated_by, activated_at=data.activated_at)
    )
    await session.flush()
    await _reevaluate_everyone(session, outbox, env)
    return True


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
