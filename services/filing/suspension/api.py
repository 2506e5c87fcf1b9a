"""``/v1/institutions/{id}/suspension``: the suspension (暂停收托) and the two-officer decision that ends it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.access import require_institution_readable
from services.filing.errors import InstitutionNotFound
from services.filing.institutions import repository as institutions
from services.filing.institutions.errors import DistrictOutOfScope, IllegalTransition
from services.filing.models import Institution, InstitutionSuspension
from services.filing.settings import FilingSettings
from services.filing.staff.service import carer_ratios
from services.filing.suspension import service
from services.filing.suspension.errors import NoProposal, NotSuspended, OutcomeMismatch, SuspensionSelfDecision
from services.filing.suspension.schemas import OUTCOME_ZH, ConfirmationIn, ProposalIn, SuspensionCaseOut, SuspensionOut
from shared import duties
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, NotFound, Unauthenticated, error_responses

router = APIRouter(prefix="/v1", tags=["suspension"])

FilingOfficer = Annotated[Principal, Depends(require_roles("filing_officer"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "ops"))]


class SuspensionNotFound(NotFound):
    code = "suspension_not_found"
    message_zh = "该机构没有暂停收托记录"


async def _out(session: AsyncSession, institution: Institution, suspension: InstitutionSuspension) -> SuspensionOut:
    cases = [
        SuspensionCaseOut(violation_id=case.violation_id, task_id=case.task_id, confirmed_at=case.confirmed_at)
        for case in await service.cases(session, suspension.id)
    ]
    return SuspensionOut(
        id=suspension.id,
        institution_id=suspension.institution_id,
        institution_status=institution.status,
        reason=suspension.reason,
        legal_basis=suspension.legal_basis,
        violation_id=suspension.violation_id,
        task_id=suspension.task_id,
        suspended_at=suspension.suspended_at,
        case_count=len(cases),
        cases=cases,
        proposed_outcome=suspension.proposed_outcome,
        proposed_outcome_zh=OUTCOME_ZH.get(suspension.proposed_outcome or ""),
        proposal_reason=suspension.proposal_reason,
        proposed_by=suspension.proposed_by,
        proposed_at=suspension.proposed_at,
        outcome=suspension.outcome,
        outcome_zh=OUTCOME_ZH.get(suspension.outcome or ""),
        decided_by=suspension.decided_by,
        decided_at=suspension.decided_at,
    )


WRITE_ERRORS = error_responses(
    InvalidInput, Unauthenticated, Forbidden, DistrictOutOfScope, InstitutionNotFound, NotSuspended
)


@router.get(
    "/institutions/{institution_id}/suspension",
    response_model=SuspensionOut,
    summary="The institution's latest suspension (暂停收托), open or decided, with any proposal",
    responses=error_responses(InstitutionNotFound, SuspensionNotFound, Unauthenticated, Forbidden),
)
async def get_suspension(institution_id: uuid.UUID, session: DbSession, reader: Reader) -> SuspensionOut:
    await require_institution_readable(session, reader, institution_id)
    institution = await institutions.get(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    suspension = await service.latest_suspension(session, institution_id)
    if suspension is None:
        raise SuspensionNotFound(field="institution_id")
    return await _out(session, institution, suspension)


@router.post(
    "/institutions/{institution_id}/suspension/proposal",
    response_model=SuspensionOut,
    summary="Propose how a suspension ends: resume (恢复收托) or deregister (注销备案), with the reason",
    description="One filing officer of the institution's district proposes; another confirms "
    "(`POST …/suspension/decision`). A new proposal replaces the previous one.",
    responses=WRITE_ERRORS,
)
async def propose(
    institution_id: uuid.UUID, body: ProposalIn, session: DbSession, officer: FilingOfficer
) -> SuspensionOut:
    suspension = await service.propose(
        session, institution_id, outcome=body.outcome, reason=body.reason, officer=officer
    )
    institution = await institutions.get(session, institution_id)
    assert institution is not None  # locked and found by propose
    return await _out(session, institution, suspension)


@router.post(
    "/institutions/{institution_id}/suspension/decision",
    response_model=SuspensionOut,
    summary="Confirm the proposal: the institution is filed again (resume) or deregistered",
    description="Separation of duties (`FILING_SOD_SUSPENSION_CONFIRMER_NOT_PROPOSER`, on by default): the "
    "officer who proposed gets 403 `suspension_self_decision`. `outcome` must equal the proposal's "
    "(409 `suspension_outcome_mismatch`); without a proposal 409 `suspension_no_proposal`.",
    responses={
        **WRITE_ERRORS,
        **error_responses(SuspensionSelfDecision, NoProposal, OutcomeMismatch, IllegalTransition),
    },
)
async def decide(
    institution_id: uuid.UUID, body: ConfirmationIn, session: DbSession, officer: FilingOfficer, request: Request
) -> SuspensionOut:
    institution, suspension = await service.confirm(
        session,
        request.app.state.outbox,
        institution_id,
        outcome=body.outcome,
        officer=officer,
        confirmer_not_proposer=duties.enabled(request.app.state.settings, "filing.suspension_confirmer_not_proposer"),
        carer_ratios=carer_ratios(settings)
        if isinstance(settings := request.app.state.settings, FilingSettings)
        else None,
    )
    return await _out(session, institution, suspension)
