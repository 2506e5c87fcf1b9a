"""暂停收托 (suspension) of a filed institution after a confirmed child-abuse case, and the filing
officers' decision that ends it.

Filing acts on inspection's ``violation.confirmed.v1`` with ``child_abuse`` itself, not on credit's
serious-dishonesty listing: the listing has other causes (any rule of the credit policy may list),
ends on repair or expiry, and follows the credit policy's grading, while the suspension follows the
confirmed case alone and ends only by the filing officers' decision (resume or deregister). One
officer proposes the outcome, another of the district confirms it (shared/duties.py
``filing.suspension_confirmer_not_proposer``).

No commits here: the consumer's or the request's unit of work owns the transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.errors import InstitutionNotFound
from services.filing.institutions import repository as institutions
from services.filing.institutions.service import apply_deregistration
from services.filing.models import Institution, InstitutionSuspension, InstitutionSuspensionCase
from services.filing.staff import repository as staff_repository
from services.filing.staff import service as staff_service
from services.filing.suspension.errors import NoProposal, NotSuspended, OutcomeMismatch, SuspensionSelfDecision
from services.filing.suspension.schemas import OUTCOME_ZH
from shared.auth import Principal
from shared.events.filing import InstitutionResumedV1, InstitutionSuspendedV1
from shared.events.inspection import ViolationConfirmedV1
from shared.outbox import Outbox
from shared.scope import require_district

log = logging.getLogger(__name__)


def suspension_reason(title_zh: str) -> str:
    """The public reason: the confirmed violation's catalogue title, nothing about the persons."""
    return f"经监督检查确认发生{title_zh}事件，依法暂停收托"


def decision_reason(outcome: str) -> str:
    """The reason the resumption or deregistration events carry: the outcome, in fixed words."""
    return f"暂停收托后{OUTCOME_ZH[outcome]}，经两名备案人员决定"


async def suspend_for_child_abuse(session: AsyncSession, outbox: Outbox, data: ViolationConfirmedV1) -> bool:
    """Suspend the filed institution of a confirmed child-abuse violation; True if it was. A case
    confirmed while the institution is already suspended (another case, or a second violation of the
    same review: inspection emits one event per violation) is recorded against the open suspension, so
    the officers deciding see every case. The same violation again (another delivery, a replay) changes
    nothing: ``violation_id`` is kept per case. An institution neither filed nor suspended
    (deregistered, unknown here) stays as it is."""
    if not data.child_abuse:
        return False
    institution = await institutions.get_for_update(session, data.institution_id)
    if institution is None:
        log.info(
            "child-abuse confirmation of an institution unknown here",
            extra={"institution_id": str(data.institution_id)},
        )
        return False
    known = await session.get(InstitutionSuspensionCase, data.violation_id)
    if known is not None:  # recorded once; if that suspension was since decided, the decision stands
        return False
    now = datetime.now(UTC)
    if institution.status == "suspended":
        suspension = await open_suspension(session, institution.id)
        if suspension is not None:
            session.add(_case(suspension, data, now))
            await session.flush()
            return False
    if institution.status != "filed":
        log.info(
            "child-abuse confirmation leaves the institution as it is",
            extra={"institution_id": str(institution.id), "status": institution.status},
        )
        return False
    # The confirmation's date, as the public reads it, but never before the last suspension of this
    # institution was decided: a case confirmed during that suspension and processed only after the
    # officers resumed it (the consumer lagging, a replay) would otherwise open a period overlapping
    # the decided one, and reporting (proj_suspension) would count those days twice.
    last_decided = (
        await session.execute(
            select(func.max(InstitutionSuspension.decided_at)).where(
                InstitutionSuspension.institution_id == institution.id
            )
        )
    ).scalar_one_or_none()
    suspended_at = max(data.confirmed_at, last_decided) if last_decided is not None else data.confirmed_at
    reason = suspension_reason(data.title_zh)
    suspension = InstitutionSuspension(
        id=uuid.uuid4(),
        institution_id=institution.id,
        violation_id=data.violation_id,
        task_id=data.task_id,
        reason=reason,
        legal_basis=data.legal_basis,
        suspended_at=suspended_at,
    )
    session.add(suspension)
    await session.flush()
    session.add(_case(suspension, data, now))
    institution.status = "suspended"
    institution.updated_at = now
    institution.version += 1
    await session.flush()
    await outbox.add(
        session,
        InstitutionSuspendedV1(
            institution_id=institution.id,
            suspended_at=suspended_at,
            reason=reason,
            legal_basis=data.legal_basis,
            violation_id=data.violation_id,
            task_id=data.task_id,
        ),
        subject=str(institution.id),
        at=now,
    )
    return True


def _case(suspension: InstitutionSuspension, data: ViolationConfirmedV1, now: datetime) -> InstitutionSuspensionCase:
    return InstitutionSuspensionCase(
        violation_id=data.violation_id,
        suspension_id=suspension.id,
        task_id=data.task_id,
        confirmed_at=data.confirmed_at,
        recorded_at=now,
    )


async def cases(session: AsyncSession, suspension_id: uuid.UUID) -> list[InstitutionSuspensionCase]:
    """The suspension's child-abuse cases, first confirmed first."""
    return list(
        (
            await session.execute(
                select(InstitutionSuspensionCase)
                .where(InstitutionSuspensionCase.suspension_id == suspension_id)
                .order_by(InstitutionSuspensionCase.confirmed_at, InstitutionSuspensionCase.violation_id)
            )
        ).scalars()
    )


async def _open(
    session: AsyncSession, institution_id: uuid.UUID, officer: Principal
) -> tuple[Institution, InstitutionSuspension]:
    institution = await institutions.get_for_update(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    require_district(officer, institution.district_code, field="institution_id")
    suspension = await open_suspension(session, institution.id)
    if institution.status != "suspended" or suspension is None:
        raise NotSuspended(field="institution_id")
    return institution, suspension


async def open_suspension(session: AsyncSession, institution_id: uuid.UUID) -> InstitutionSuspension | None:
    return (
        await session.execute(
            select(InstitutionSuspension).where(
                InstitutionSuspension.institution_id == institution_id, InstitutionSuspension.decided_at.is_(None)
            )
        )
    ).scalar_one_or_none()


async def latest_suspension(session: AsyncSession, institution_id: uuid.UUID) -> InstitutionSuspension | None:
    return (
        await session.execute(
            select(InstitutionSuspension)
            .where(InstitutionSuspension.institution_id == institution_id)
            .order_by(InstitutionSuspension.suspended_at.desc(), InstitutionSuspension.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def propose(
    session: AsyncSession, institution_id: uuid.UUID, *, outcome: str, reason: str, officer: Principal
) -> InstitutionSuspension:
    """One officer's proposal (resume or deregister, with its reason); a later proposal replaces it
    (and its proposer is then the one who may not confirm)."""
    _, suspension = await _open(session, institution_id, officer)
    suspension.proposed_outcome = outcome
    suspension.proposal_reason = reason
    suspension.proposed_by = officer.subject
    suspension.proposed_at = datetime.now(UTC)
    await session.flush()
    return suspension


async def confirm(
    session: AsyncSession,
    outbox: Outbox,
    institution_id: uuid.UUID,
    *,
    outcome: str,
    officer: Principal,
    confirmer_not_proposer: bool = True,
    carer_ratios: Mapping[str, int] | None = None,
) -> tuple[Institution, InstitutionSuspension]:
    """Another officer confirms the proposal: resume (filed again, its staffing re-assessed with
    ``carer_ratios`` as the roster stands now: people may have left meanwhile) or deregister (注销)."""
    institution, suspension = await _open(session, institution_id, officer)
    if suspension.proposed_outcome is None or suspension.proposed_by is None:
        raise NoProposal(field="outcome")
    if confirmer_not_proposer and suspension.proposed_by == officer.subject:
        raise SuspensionSelfDecision(field="outcome")
    if outcome != suspension.proposed_outcome:
        raise OutcomeMismatch(
            f"确认的处理结果（{OUTCOME_ZH[outcome]}）与提出的意见（{OUTCOME_ZH[suspension.proposed_outcome]}）不一致，"
            "请核对后确认，或重新提出意见",
            field="outcome",
        )
    # The events go to other agencies (shared/grants.yaml) and may reach the ledger: they carry a
    # fixed phrase, never the officers' typed reason (free text that may name persons), which stays
    # in filing's table and the officers' ``GET …/suspension``.
    reason = decision_reason(outcome)
    now = datetime.now(UTC)
    suspension.outcome = outcome
    suspension.decided_by = officer.subject
    suspension.decided_at = now
    if outcome == "deregister":
        await apply_deregistration(session, outbox, institution, reason=reason, officer=officer)
        return institution, suspension
    institution.status = "filed"
    institution.updated_at = now
    institution.version += 1
    await session.flush()
    await outbox.add(
        session,
        InstitutionResumedV1(
            institution_id=institution.id,
            reason=reason,
            proposed_by=suspension.proposed_by,
            decided_by=officer.subject,
            resumed_at=now,
        ),
        subject=str(institution.id),
        at=now,
    )
    if carer_ratios is not None and await staff_repository.get_staffing_status(session, institution.id) is not None:
        await staff_service.evaluate_staffing(session, outbox, institution, carer_ratios)
    return institution, suspension
