"""Credit domain logic (诚信档案): records, entries, (re-)evaluation, lists and bans, repair, policy change.

A subject's grade is never updated incrementally: after every change its whole timeline (grade
history, list stays, current standing) is recomputed from its facts — entries, approved repairs, policy
activations, each dated by its own timestamp — up to the service clock (``CreditEnv.now``). That makes
the state independent of the order events arrive in, lets entries expire without any event (the
periodic re-evaluation), and makes a replay into an empty database reproduce the live state. Repairs and
policy activations are decided here, so they are published (``CreditRepairAppliedV1``,
``CreditRepairDecidedV1``, ``CreditPolicyActivatedV1``) and read back by the credit consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository, timeline
from services.credit.errors import (
    EntryNotCounting,
    EntryNotFound,
    EvidenceNotFound,
    EvidenceNotUploaded,
    PolicyAlreadyActive,
    PolicyNotFound,
    RectificationOpen,
    RepairAlreadyDecided,
    RepairExists,
    RepairNotFound,
    RepairSelfDecision,
    RepairTooEarly,
    RuleNotRepairable,
    SubjectNotFound,
)
from services.credit.models import (
    CreditEntry,
    CreditEvidence,
    CreditGradeHistory,
    CreditListMembership,
    CreditPolicyActivation,
    CreditRepair,
    CreditStanding,
    CreditSubject,
)
from services.credit.policy import RECTIFIED_RULE, ListName, Policy, PolicyRegistry
from services.credit.scoring import EntryInput, Evaluation, evaluate
from shared.batch import BatchCollector
from shared.events.credit import (
    CreditListEnteredV1,
    CreditListLeftV1,
    CreditPolicyActivatedV1,
    CreditRecordOpenedV1,
    CreditRepairAppliedV1,
    CreditRepairDecidedV1,
    InstitutionGradedV1,
    PersonBanLiftedV1,
    PersonBannedV1,
)
from shared.outbox import Outbox

Clock = Callable[[], datetime]
BEIJING = ZoneInfo("Asia/Shanghai")
# Entry ids are a function of (subject, rule, source): the same facts give the same ids on replay.
ENTRY_NAMESPACE = uuid.UUID("6f1c4a52-3f0e-4d8e-9d55-2b8f6a1c0c11")
# Key of policy activations on the credit topic: one partition, so activations stay in order.
POLICY_KEY = "policy"


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


async def _activations(session: AsyncSession, env: CreditEnv) -> list[tuple[datetime, Policy]]:
    """Every activation, oldest first, with its policy (a version no longer shipped stops the service:
    grades could not be re-derived)."""
    out: list[tuple[datetime, Policy]] = []
    for activation in await repository.activations(session):
        policy = env.registry.get(activation.version)
        if policy is None:
            raise RuntimeError(f"policy version {activation.version} is not available")
        out.append((activation.activated_at, policy))
    return out


def _default_policy(env: CreditEnv) -> Policy:
    policy = env.registry.get(env.default_version)
    if policy is None:  # the settings name a version that is not shipped: a deployment error
        raise RuntimeError(f"policy version {env.default_version} is not available")
    return policy


async def policy_in_force(session: AsyncSession, env: CreditEnv, at: datetime) -> Policy:
    """The version in force at ``at``: the latest activation at or before it, else the default."""
    return timeline.policy_at(_default_policy(env), await _activations(session, env), at)


async def active_policy(session: AsyncSession, env: CreditEnv) -> Policy:
    return await policy_in_force(session, env, env.now())


# --- records and entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class _StagedSubject:
    """A subject row an event opens or folds into the record; ``opened`` (its time and event id)
    announces the record if this row creates it."""

    key: tuple[str, str]
    row: dict[str, object]
    opened: tuple[datetime, str]
    outbox: Outbox


@dataclass(frozen=True)
class _StagedEntry:
    entry_id: uuid.UUID
    row: dict[str, object]


async def _write_staged(session: AsyncSession, staged: list[_StagedSubject | _StagedEntry]) -> None:
    """Subject rows (one upsert; the records it created announced in the order their first events
    arrived — the order announcing each at once would have given), then entries (one executemany)."""
    subjects: dict[tuple[str, str], _StagedSubject] = {}
    entries: dict[uuid.UUID, dict[str, object]] = {}
    for item in staged:
        if isinstance(item, _StagedEntry):
            entries.setdefault(item.entry_id, item.row)  # the first one recorded wins, as ON CONFLICT DO NOTHING
        elif item.key in subjects:
            repository.fold_subject(subjects[item.key].row, item.row)
        else:  # the first event of the batch about the subject opens the record if it is new
            subjects[item.key] = _StagedSubject(item.key, dict(item.row), item.opened, item.outbox)
    if subjects:
        # rows in key order: two consumers writing overlapping subjects lock them in the same order
        inserted = await repository.upsert_subjects(session, [subjects[key].row for key in sorted(subjects)])
        for key, first in subjects.items():
            if key in inserted:
                await _announce_opened(session, first.outbox, key, *first.opened)
    if entries:
        await repository.insert_entries_if_absent(session, [entries[key] for key in sorted(entries)])


# Subject rows and entries the handlers of a consumed batch recorded, written with one statement
# each before anything reads them (``write_staged``): at the batch's end, or earlier when a handler
# reads or updates subjects itself. Outside a batch each is written when recorded.
_STAGED: BatchCollector[_StagedSubject | _StagedEntry] = BatchCollector("credit.staged", _write_staged)


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
) -> None:
    """Open the subject's record (or fold a later/earlier event into it); a new record is announced
    (``CreditRecordOpenedV1``). Inside a consumed batch the row is staged and the batch's rows are
    written together (``write_staged``)."""
    key = (kind, subject_id)
    row: dict[str, object] = {
        "id": uuid.uuid4(),
        "subject_kind": kind,
        "subject_id": subject_id,
        "display_name": display_name,
        "district_code": district_code,
        "opened_at": at,
        "opened_by_event_id": source.event_id,
        "profile_at": at if display_name is not None else None,
    }
    await _STAGED.add(session, _StagedSubject(key, row, (at, source.event_id), outbox))


async def _announce_opened(
    session: AsyncSession, outbox: Outbox, key: tuple[str, str], at: datetime, event_id: str
) -> None:
    kind, subject_id = key
    await outbox.add(
        session,
        CreditRecordOpenedV1(
            subject_kind="institution" if kind == "institution" else "person",
            subject_id=subject_id,
            opened_at=at,
            cause_event_id=event_id,
        ),
        subject=subject_id,
        at=at,
        derived_from="opened",  # a record opens once, whichever event opened it
    )


async def write_staged(session: AsyncSession) -> None:
    """Write what the batch's handlers staged so far (``_write_staged``). Outside a batch nothing is
    ever staged."""
    await _STAGED.flush(session)


async def mark_deregistered(session: AsyncSession, institution_id: str, at: datetime) -> None:
    await write_staged(session)  # the record may have been opened earlier in this batch
    await repository.mark_deregistered(session, "institution", institution_id, at)


async def record_entry(
    session: AsyncSession,
    env: CreditEnv,
    *,
    kind: str,
    subject_id: str,
    rule_id: str,
    source_key: str,
    source: Source,
    effective_from: datetime,
    detail_zh: str,
    legal_basis: str | None = None,
) -> None:
    """Append an entry once per (subject, rule, source fact); nothing if it is already there or no
    policy version applies the rule to this kind of subject. Inside a consumed batch the entry is
    staged and written with the batch's others (``write_staged``), before any evaluation reads them.

    An entry holds the fact only (rule id, times, the event's own legal basis): what it is worth —
    points, counting period, the rule's basis — is read from the version in force when evaluating.
    Nothing here depends on which activations this database has seen yet, so a replay that reads the
    credit topic after the inspection topic records the same row."""
    if not any(kind in p.rules[rule_id].applies_to for v in env.registry.versions() if (p := env.registry.get(v))):
        return
    entry_id = entry_id_for(kind, subject_id, rule_id, source_key)
    row = repository.entry_row(
        CreditEntry(
            id=entry_id,
            subject_kind=kind,
            subject_id=subject_id,
            rule_id=rule_id,
            source_key=source_key,
            source_event_id=source.event_id,
            source_event_type=source.event_type,
            effective_from=effective_from,
            legal_basis=legal_basis,
            detail_zh=detail_zh,
            recorded_at=env.now(),
        )
    )
    await _STAGED.add(session, _StagedEntry(entry_id, row))


async def subject_facts(session: AsyncSession, kind: str, subject_id: str) -> tuple[list[EntryInput], dict[str, str]]:
    """The subject's entries (with the time an approved repair took effect) and the reasons given for
    those repairs, by entry id."""
    entries = await repository.entries_of(session, kind, subject_id)
    approved = [
        r for r in await repository.repairs_of(session, kind, subject_id) if r.status == "approved" and r.decided_at
    ]
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


# --- evaluation -----------------------------------------------------------------------------------


def announced(what: str, at: datetime) -> str:
    """The key of a derived event's id (``Outbox.add(derived_from=)``): the state it announces and when
    the subject's timeline reached it, not the event that happened to reach it. Grades and list
    stays are a function of the subject's facts, so a replay that applies the records in the order
    the live service did (``services.credit.restore``) announces each state it reaches under the id
    the live service gave it, however its batches fall, and every consumer's inbox drops it.
    (Records applied in another order can pass through states the live service never was in, with
    ids of their own: hence the command, not a bare group reset, for an empty database.)"""
    return f"{what}@{at.astimezone(UTC).isoformat(timespec='microseconds')}"


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
    default, activations = _default_policy(env), await _activations(session, env)
    as_of = env.now()
    inputs, repair_reasons = await subject_facts(session, kind, subject_id)
    line = timeline.build(inputs, default, activations, repair_reasons, as_of)
    standing = await repository.standing_of(session, kind, subject_id)
    if line is None:
        # No credit information yet (a record opened by filing alone): not graded (未评级). The first
        # grade is set, and published, with the first entry.
        return evaluate(inputs, timeline.policy_at(default, activations, as_of), as_of)
    result = line.current
    previous = standing.grade if standing is not None else None
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
    if previous != result.grade and kind == "institution":
        await outbox.add(
            session,
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
            subject=subject_id,
            at=as_of,
            derived_from=announced(result.grade, line.graded_at),
        )
    await _sync_lists(session, outbox, subject, line, inputs, as_of)
    if flush:
        await session.flush()
    return result


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

    subject_kind: Literal["institution", "person"] = "institution" if kind == "institution" else "person"
    current = {s.list_name: s for s in line.stays if s.left_at is None}
    entries = {e.entry_id: e for e in inputs}
    for list_name, stay in current.items():
        if list_name in was_current:
            continue
        until_day = stay.until.astimezone(BEIJING).date() if stay.until is not None else None
        await outbox.add(
            session,
            CreditListEnteredV1(
                list_name=list_name,
                subject_kind=subject_kind,
                subject_id=subject_id,
                reason=stay.reason,
                legal_basis=stay.legal_basis,
                entered_at=stay.entered_at,
                until=until_day,
            ),
            subject=subject_id,
            at=as_of,
            derived_from=announced(list_name, stay.entered_at),
        )
        if list_name == "industry_ban" and kind == "person":
            cause = entries[stay.cause_entry_ids[0]]
            await outbox.add(
                session,
                PersonBannedV1(
                    person_ref=subject_id,
                    reason=stay.reason,
                    legal_basis=cause.legal_basis or stay.legal_basis,
                    banned_at=stay.entered_at,
                    until=until_day,
                    cause_event_id=cause.source_event_id,
                ),
                subject=subject_id,
                at=as_of,
                derived_from=announced(list_name, stay.entered_at),
            )
    for stored_name in sorted(was_current - set(current)):
        list_name = _list(stored_name)
        left = [s for s in line.stays if s.list_name == list_name and s.left_at is not None]
        left_at = max((s.left_at for s in left if s.left_at is not None), default=as_of)
        reason = next((s.left_reason for s in left if s.left_at == left_at and s.left_reason), "列入名单的原因已消除")
        await outbox.add(
            session,
            CreditListLeftV1(
                list_name=list_name, subject_kind=subject_kind, subject_id=subject_id, reason=reason, left_at=left_at
            ),
            subject=subject_id,
            at=as_of,
            derived_from=announced(list_name, left_at),
        )
        if list_name == "industry_ban" and kind == "person":
            await outbox.add(
                session,
                PersonBanLiftedV1(person_ref=subject_id, lifted_at=left_at, reason=reason),
                subject=subject_id,
                derived_from=announced(list_name, left_at),
            )


def _list(name: str) -> ListName:
    return "industry_ban" if name == "industry_ban" else "serious_dishonesty"


# --- credit repair (信用修复) ---------------------------------------------------------------------


async def apply_for_repair(
    session: AsyncSession,
    outbox: Outbox,
    env: CreditEnv,
    *,
    entry_id: uuid.UUID,
    evidence_sha256: list[str],
    commitment_zh: str,
    applied_by: str,
    evidence_uploaded: bool = True,
) -> CreditRepair:
    """With ``evidence_uploaded`` (shared/duties.py), every evidence hash must be a document uploaded
    for the entry."""
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
    if evidence_uploaded:
        uploaded = await repository.uploaded_evidence(session, entry_id, evidence_sha256)
        for n, digest in enumerate(evidence_sha256):
            if digest not in uploaded:
                raise EvidenceNotUploaded(
                    f"证明材料（SHA-256 {digest[:12]}…）未上传：请先通过 POST /v1/credit/entries/{entry_id}/evidence "
                    "上传该信用记录的证明材料",
                    field=f"evidence_sha256.{n}",
                )
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
    await outbox.add(
        session,
        CreditRepairAppliedV1(
            repair_id=repair.id,
            entry_id=entry_id,
            subject_kind="institution" if entry.subject_kind == "institution" else "person",
            subject_id=entry.subject_id,
            evidence_sha256=list(evidence_sha256),
            commitment=commitment_zh,
            applied_by=applied_by,
            applied_at=now,
        ),
        subject=entry.subject_id,
        at=now,
    )
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
    decider_not_applicant: bool = True,
    after_rectification: bool = True,
) -> CreditRepair:
    """Approve or refuse; an approval stops the entry counting from the decision on. Separation of
    duties (shared/duties.py): with ``decider_not_applicant`` never by whoever applied; with
    ``after_rectification`` an approval of an entry caused by a violation waits until the
    violation's rectification was verified (the policy rule may exempt it, with its legal basis). A
    refusal is always possible."""
    repair = await repository.lock_repair(session, repair_id)
    if repair is None:
        raise RepairNotFound()
    if repair.status != "pending":
        raise RepairAlreadyDecided()
    if decider_not_applicant and repair.applied_by == decided_by:
        raise RepairSelfDecision()
    if approve and after_rectification:
        await _require_rectification(session, env, repair)
    now = env.now()
    await _decide(session, outbox, env, repair, approve=approve, reason=reason, decided_by=decided_by, at=now)
    await outbox.add(
        session,
        CreditRepairDecidedV1(
            repair_id=repair.id,
            entry_id=repair.entry_id,
            subject_kind="institution" if repair.subject_kind == "institution" else "person",
            subject_id=repair.subject_id,
            approved=approve,
            reason=reason,
            decided_by=decided_by,
            decided_at=now,
        ),
        subject=repair.subject_id,
        at=now,
    )
    return repair


VIOLATION_SOURCE = "violation:"


async def _require_rectification(session: AsyncSession, env: CreditEnv, repair: CreditRepair) -> None:
    entry = await repository.find_entry(session, repair.entry_id)
    if entry is None or not entry.source_key.startswith(VIOLATION_SOURCE):
        return  # not caused by a violation (e.g. an overdue annual report): nothing to rectify
    rule = (await active_policy(session, env)).rules.get(entry.rule_id)
    if rule is not None and rule.repair_without_rectification:
        return
    if not await repository.rectified(session, RECTIFIED_RULE, entry.source_key):
        raise RectificationOpen(field="repair_id")


async def _decide(
    session: AsyncSession,
    outbox: Outbox,
    env: CreditEnv,
    repair: CreditRepair,
    *,
    approve: bool,
    reason: str,
    decided_by: str,
    at: datetime,
) -> None:
    repair.status = "approved" if approve else "refused"
    repair.decided_by = decided_by
    repair.decided_at = at
    repair.decision_reason = reason
    await session.flush()
    if approve:
        await reevaluate(session, outbox, env, kind=repair.subject_kind, subject_id=repair.subject_id)


async def upload_evidence(
    session: AsyncSession,
    env: CreditEnv,
    *,
    entry_id: uuid.UUID,
    content: bytes,
    media_type: str,
    sha256: str,
    uploaded_by: str,
) -> CreditEvidence:
    """Store a document as evidence for the repair of ``entry_id`` (an entry of this service)."""
    entry = await repository.find_entry(session, entry_id)
    if entry is None:
        raise EntryNotFound(field="entry_id")
    evidence = CreditEvidence(
        entry_id=entry_id,
        sha256=sha256,
        subject_kind=entry.subject_kind,
        subject_id=entry.subject_id,
        media_type=media_type,
        size_bytes=len(content),
        content=content,
        uploaded_by=uploaded_by,
        uploaded_at=env.now(),
    )
    await repository.store_evidence(session, evidence)
    return evidence


async def get_evidence(session: AsyncSession, entry_id: uuid.UUID, sha256: str) -> CreditEvidence:
    evidence = await repository.evidence_of(session, entry_id, sha256)
    if evidence is None:
        raise EvidenceNotFound(field="sha256")
    return evidence


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


# --- the same decisions read back from the credit topic (replay) ------------------------------------
# The live path above writes the rows and the event in one transaction; the credit consumer reads the
# event back. If the rows are there (the live service, or an earlier delivery), nothing changes; in an
# empty database (a replay) the rows are recreated with the event's ids and timestamps and the subject
# re-evaluated, which gives the live result because the timeline dates everything by those timestamps.


class ReplayConflict(RuntimeError):
    """A decision event that contradicts the stored state (dead-lettered by the consumer)."""


async def record_repair_application(session: AsyncSession, data: CreditRepairAppliedV1) -> bool:
    """True if the application was not known yet and was recorded (pending: no grade changes)."""
    await write_staged(session)  # earlier events of this batch first, in their order
    if await repository.find_repair(session, data.repair_id) is not None:
        return False
    # The entry may not be here yet (its topic replays later): the repair waits for it by entry id.
    session.add(
        CreditRepair(
            id=data.repair_id,
            entry_id=data.entry_id,
            subject_kind=data.subject_kind,
            subject_id=data.subject_id,
            status="pending",
            evidence_sha256=list(data.evidence_sha256),
            commitment_zh=data.commitment,
            applied_by=data.applied_by,
            applied_at=data.applied_at,
        )
    )
    await session.flush()
    return True


async def record_repair_decision(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, data: CreditRepairDecidedV1
) -> bool:
    """True if the decision was not known yet and was applied (an approval re-grades the subject)."""
    await write_staged(session)  # earlier events of this batch first, in their order
    repair = await repository.lock_repair(session, data.repair_id)
    if repair is None:
        # The application has the same key and topic, so Kafka delivers it first; without it the
        # repair cannot be rebuilt (evidence, commitment).
        raise ReplayConflict(f"repair {data.repair_id} decided but never applied for")
    status = "approved" if data.approved else "refused"
    if repair.status != "pending":
        if repair.status == status and repair.decided_at == data.decided_at:
            return False
        raise ReplayConflict(f"repair {data.repair_id} is {repair.status}, the event says {status}")
    await _decide(
        session,
        outbox,
        env,
        repair,
        approve=data.approved,
        reason=data.reason,
        decided_by=data.decided_by,
        at=data.decided_at,
    )
    return True


async def record_policy_activation(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, data: CreditPolicyActivatedV1
) -> bool:
    """True if the activation was not known yet: recorded at its own time, every subject re-graded."""
    await write_staged(session)  # earlier events of this batch first, in their order
    if env.registry.get(data.version) is None:
        raise ReplayConflict(f"policy version {data.version} is not available")
    await repository.lock_activations(session)
    if await repository.find_activation(session, data.version, data.activated_at) is not None:
        return False
    session.add(
        CreditPolicyActivation(version=data.version, activated_by=data.activated_by, activated_at=data.activated_at)
    )
    await session.flush()
    await _reevaluate_everyone(session, outbox, env)
    return True


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
