"""Credit repair (信用修复): an application against one entry with evidence and a commitment, decided
by another officer (四眼原则); an approval re-grades the subject. Decided here, so published
(``CreditRepairAppliedV1``, ``CreditRepairDecidedV1``) and read back by the credit consumer.

No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.env import BEIJING, CreditEnv
from services.credit.errors import (
    EntryNotCounting,
    EntryNotFound,
    EvidenceNotFound,
    EvidenceNotUploaded,
    RectificationOpen,
    RepairAlreadyDecided,
    RepairExists,
    RepairNotFound,
    RepairSelfDecision,
    RepairTooEarly,
    ReplayConflict,
    RuleNotRepairable,
)
from services.credit.evaluation.service import reevaluate
from services.credit.models import (
    CreditEvidence,
    CreditRepair,
)
from services.credit.policy.documents import RECTIFIED_RULE
from services.credit.policy.service import active_policy
from services.credit.records.service import write_staged
from shared.events.credit import (
    CreditRepairAppliedV1,
    CreditRepairDecidedV1,
)
from shared.outbox import Outbox


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


def set_decision(repair: CreditRepair, *, approve: bool, reason: str, decided_by: str, at: datetime) -> None:
    repair.status = "approved" if approve else "refused"
    repair.decided_by = decided_by
    repair.decided_at = at
    repair.decision_reason = reason


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
    set_decision(repair, approve=approve, reason=reason, decided_by=decided_by, at=at)
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


# The same decisions read back from the credit topic (replay). The live path above writes the rows
# and the event in one transaction; the credit consumer reads the event back. If the rows are there
# (the live service, or an earlier delivery), nothing changes; in an empty database (a replay) the
# rows are recreated with the event's ids and timestamps and the subject re-evaluated, which gives
# the live result because the timeline dates everything by those timestamps.


async def record_repair_application(session: AsyncSession, data: CreditRepairAppliedV1) -> bool:
    """True if the application was not known yet and was recorded (pending: no grade changes)."""
    await write_staged(session)  # earlier events of this batch first, in their order
    if await repository.find_repair(session, data.repair_id) is not None:
        return False
    # The entry may not be here yet (its topic replays later): the repair waits for it by entry id.
    session.add(repair_from_application(data))
    await session.flush()
    return True


def repair_from_application(data: CreditRepairAppliedV1) -> CreditRepair:
    """The pending repair an application read back from the credit topic recreates (its own ids and times)."""
    return CreditRepair(
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


def decision_is_new(repair: CreditRepair | None, data: CreditRepairDecidedV1) -> bool:
    """Whether a decision read back changes ``repair`` (False: already recorded, the same decision);
    ReplayConflict when it cannot be applied."""
    if repair is None:
        # The application has the same key and topic, so Kafka delivers it first; without it the
        # repair cannot be rebuilt (evidence, commitment).
        raise ReplayConflict(f"repair {data.repair_id} decided but never applied for")
    status = "approved" if data.approved else "refused"
    if repair.status != "pending":
        if repair.status == status and repair.decided_at == data.decided_at:
            return False
        raise ReplayConflict(f"repair {data.repair_id} is {repair.status}, the event says {status}")
    return True


async def record_repair_decision(
    session: AsyncSession, outbox: Outbox, env: CreditEnv, data: CreditRepairDecidedV1
) -> bool:
    """True if the decision was not known yet and was applied (an approval re-grades the subject)."""
    await write_staged(session)  # earlier events of this batch first, in their order
    repair = await repository.lock_repair(session, data.repair_id)
    if not decision_is_new(repair, data):
        return False
    assert repair is not None  # decision_is_new raised otherwise
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
