"""Project the domain events into the statistics tables, in the consumer's transaction (after the
ledger append): both commit together, and the inbox makes the pair effectively-once.

Order tolerance: every write is an upsert whose outcome does not depend on arrival order —
versions are kept and read newest-first (profiles, grades), lifecycle times fold with
GREATEST/LEAST, and a row another event has not created yet starts as a placeholder. Applying the
same event twice changes nothing either (a rebuild may meet events the inbox already holds).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.stats import repository as repo
from services.reporting.stats.models import (
    PROFILE_RANK,
    ProjAnnualReport,
    ProjComplaint,
    ProjCreditGrade,
    ProjFilingDecision,
    ProjInspection,
    ProjInstitutionProfile,
    ProjQualityAssessment,
    ProjStaff,
    ProjSuspension,
    ProjUnlicensedCase,
    ProjViolation,
)
from shared.events import DecodedEvent
from shared.events.credit import InstitutionGradedV1, InstitutionRescoredV1
from shared.events.filing import (
    AnnualReportOverdueV1,
    AnnualReportSubmittedV1,
    InstitutionChangedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionProfile,
    InstitutionRejectedV1,
    InstitutionResumedV1,
    InstitutionReturnedV1,
    InstitutionSubmittedV1,
    InstitutionSuspendedV1,
    StaffHiredV1,
    StaffLeftV1,
)
from shared.events.inspection import (
    ComplaintReceivedV1,
    ComplaintTriagedV1,
    InspectionResultPublishedV1,
    QualityAssessedV1,
    UnlicensedCaseClosedV1,
    UnlicensedCaseOpenedV1,
    ViolationClosedV1,
    ViolationConfirmedV1,
    ViolationEscalatedV1,
)
from shared.handlers import Handlers

# Registered after the ledger append by the consumer (services.reporting.consumers).
projections = Handlers()


async def _profile(
    session: AsyncSession,
    event_id: str,
    institution_id: uuid.UUID,
    profile: InstitutionProfile,
    at: datetime,
    kind: str,
) -> None:
    await repo.upsert(
        session,
        ProjInstitutionProfile,
        {
            "event_id": event_id,
            "institution_id": institution_id,
            "effective_at": at,
            "rank": PROFILE_RANK[kind],
            "name": profile.name,
            "operating_model": profile.operating_model,
            "district_code": profile.district_code,
            "street_code": profile.street_code,
            "total_slots": profile.total_slots,
            "puhui_slots": profile.puhui_slots,
            "class_count": len(profile.classes),
        },
        ["event_id"],
    )


@projections.on(InstitutionSubmittedV1)
async def _submitted(session: AsyncSession, data: InstitutionSubmittedV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id, last_submitted_at=data.submitted_at)
    await repo.set_identity(
        session,
        data.institution_id,
        name=data.name,
        district_code=data.district_code,
        street_code=data.street_code,
        at=data.submitted_at,
    )
    if data.profile is not None:
        await _profile(session, event.envelope.id, data.institution_id, data.profile, data.submitted_at, "submitted")


async def _decision(
    session: AsyncSession, event: DecodedEvent, institution_id: uuid.UUID, outcome: str, at: datetime
) -> None:
    # one row per decision event: the same event again (rebuild, redelivery) changes nothing
    await repo.upsert(
        session,
        ProjFilingDecision,
        {"event_id": event.envelope.id, "institution_id": institution_id, "outcome": outcome, "decided_at": at},
        ["event_id"],
    )


@projections.on(InstitutionFiledV1)
async def _filed(session: AsyncSession, data: InstitutionFiledV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id, filed_at=data.decided_at)
    await _decision(session, event, data.institution_id, "filed", data.decided_at)
    await _profile(session, event.envelope.id, data.institution_id, data.profile, data.decided_at, "filed")


@projections.on(InstitutionChangedV1)
async def _changed(session: AsyncSession, data: InstitutionChangedV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    await _profile(session, event.envelope.id, data.institution_id, data.profile, data.changed_at, "changed")


@projections.on(InstitutionReturnedV1)
async def _returned(session: AsyncSession, data: InstitutionReturnedV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id, returned_at=data.decided_at)
    await _decision(session, event, data.institution_id, "returned", data.decided_at)


@projections.on(InstitutionRejectedV1)
async def _rejected(session: AsyncSession, data: InstitutionRejectedV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id, rejected_at=data.decided_at)
    await _decision(session, event, data.institution_id, "rejected", data.decided_at)


@projections.on(InstitutionDeregisteredV1)
async def _deregistered(session: AsyncSession, data: InstitutionDeregisteredV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id, deregistered_at=data.deregistered_at)


async def _suspension(
    session: AsyncSession, event: DecodedEvent, institution_id: uuid.UUID, at: datetime, suspended: bool
) -> None:
    await repo.ensure_institution(session, institution_id)
    await repo.upsert(
        session,
        ProjSuspension,
        {"event_id": event.envelope.id, "institution_id": institution_id, "changed_at": at, "suspended": suspended},
        ["event_id"],
    )


@projections.on(InstitutionSuspendedV1)
async def _suspended(session: AsyncSession, data: InstitutionSuspendedV1, event: DecodedEvent) -> None:
    await _suspension(session, event, data.institution_id, data.suspended_at, True)


@projections.on(InstitutionResumedV1)
async def _resumed(session: AsyncSession, data: InstitutionResumedV1, event: DecodedEvent) -> None:
    await _suspension(session, event, data.institution_id, data.resumed_at, False)


@projections.on(StaffHiredV1)
async def _hired(session: AsyncSession, data: StaffHiredV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    certificates = [
        {"kind": c.kind, "expires_on": c.expires_on.isoformat() if c.expires_on else None} for c in data.certificates
    ]
    values = {
        "staff_id": data.staff_id,
        "institution_id": data.institution_id,
        "role": data.role,
        "hired_on": data.hired_on,
        "certificates": certificates,
        "training_hours": data.training_hours,
    }
    # left_on is not touched: a departure that arrived first stays recorded
    await repo.upsert(session, ProjStaff, values, ["staff_id"], {k: v for k, v in values.items() if k != "staff_id"})


@projections.on(StaffLeftV1)
async def _left(session: AsyncSession, data: StaffLeftV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    await repo.upsert(
        session,
        ProjStaff,
        {"staff_id": data.staff_id, "institution_id": data.institution_id, "left_on": data.left_on},
        ["staff_id"],
        {"left_on": data.left_on},
    )


@projections.on(AnnualReportSubmittedV1)
async def _report_submitted(session: AsyncSession, data: AnnualReportSubmittedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {"submitted_at": data.submitted_at, "on_time": data.on_time}
    await repo.upsert(
        session,
        ProjAnnualReport,
        {"institution_id": data.institution_id, "year": data.year, **values},
        ["institution_id", "year"],
        values,
    )


@projections.on(AnnualReportOverdueV1)
async def _report_overdue(session: AsyncSession, data: AnnualReportOverdueV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {"overdue_due_date": data.due_date}
    await repo.upsert(
        session,
        ProjAnnualReport,
        {"institution_id": data.institution_id, "year": data.year, **values},
        ["institution_id", "year"],
        values,
    )


@projections.on(InspectionResultPublishedV1)
async def _published(session: AsyncSession, data: InspectionResultPublishedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {
        "institution_id": data.institution_id,
        "kind": data.kind,
        "conclusion": data.conclusion,
        "violation_count": data.violation_count,
        "inspected_at": data.inspected_at,
        "published_at": data.published_at,
    }
    # a result published again (corrected) replaces the older publication, whatever the arrival order
    await repo.upsert(
        session,
        ProjInspection,
        {"task_id": data.task_id, **values},
        ["task_id"],
        values,
        where=lambda excluded: ProjInspection.published_at <= excluded.published_at,
    )


@projections.on(ViolationConfirmedV1)
async def _confirmed(session: AsyncSession, data: ViolationConfirmedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {
        "institution_id": data.institution_id,
        "code": data.code,
        "title_zh": data.title_zh,
        "severity": data.severity,
        "confirmed_at": data.confirmed_at,
        "rectification_due": data.rectification_due,
    }
    await repo.upsert(session, ProjViolation, {"violation_id": data.violation_id, **values}, ["violation_id"], values)


@projections.on(ViolationClosedV1)
async def _closed(session: AsyncSession, data: ViolationClosedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {"institution_id": data.institution_id, "closed_at": data.closed_at}
    await repo.upsert(
        session,
        ProjViolation,
        {"violation_id": data.violation_id, **values},
        ["violation_id"],
        {"closed_at": data.closed_at},
    )


@projections.on(ViolationEscalatedV1)
async def _escalated(session: AsyncSession, data: ViolationEscalatedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    values = {"institution_id": data.institution_id, "escalated_at": data.escalated_at}
    await repo.upsert(
        session,
        ProjViolation,
        {"violation_id": data.violation_id, **values},
        ["violation_id"],
        {"escalated_at": data.escalated_at},
    )


@projections.on(InstitutionGradedV1)
async def _graded(session: AsyncSession, data: InstitutionGradedV1, event: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    await repo.upsert(
        session,
        ProjCreditGrade,
        {
            "event_id": event.envelope.id,
            "institution_id": data.institution_id,
            "grade": data.grade,
            "score": data.score,
            "graded_at": data.graded_at,
        },
        ["event_id"],
    )


@projections.on(InstitutionRescoredV1)
async def _rescored(session: AsyncSession, data: InstitutionRescoredV1, event: DecodedEvent) -> None:
    # The score changed inside the grade (a repair, an expiry, a policy): a version like a grade
    # change's, so the newest of either is credit's current score (84 vs 86 otherwise).
    await repo.ensure_institution(session, data.institution_id)
    await repo.upsert(
        session,
        ProjCreditGrade,
        {
            "event_id": event.envelope.id,
            "institution_id": data.institution_id,
            "grade": data.grade,
            "score": data.score,
            "graded_at": data.scored_at,
        },
        ["event_id"],
    )


@projections.on(QualityAssessedV1)
async def _assessed(session: AsyncSession, data: QualityAssessedV1, _: DecodedEvent) -> None:
    await repo.ensure_institution(session, data.institution_id)
    await repo.upsert(
        session,
        ProjQualityAssessment,
        {
            "assessment_id": data.assessment_id,
            "institution_id": data.institution_id,
            "district_code": data.district_code,
            "kind": data.kind,
            "grade": data.grade,
            "assessed_at": data.assessed_at,
        },
        ["assessment_id"],
    )


@projections.on(UnlicensedCaseOpenedV1)
async def _case_opened(session: AsyncSession, data: UnlicensedCaseOpenedV1, _: DecodedEvent) -> None:
    values = {"district_code": data.district_code, "opened_at": data.opened_at}
    # the opening is authoritative for district and time, whether the closure came before it or not
    await repo.upsert(session, ProjUnlicensedCase, {"case_id": data.case_id, **values}, ["case_id"], values)


@projections.on(UnlicensedCaseClosedV1)
async def _case_closed(session: AsyncSession, data: UnlicensedCaseClosedV1, _: DecodedEvent) -> None:
    table = ProjUnlicensedCase.__table__
    values = {
        "case_id": data.case_id,
        "district_code": data.district_code,
        "opened_at": data.opened_at,
        "closed_at": data.closed_at,
        "outcome": data.outcome,
    }
    # district and opening time stay as the opening (or an earlier copy) set them; of two closures
    # the later one stands, whatever order they arrive in
    await repo.upsert(
        session,
        ProjUnlicensedCase,
        values,
        ["case_id"],
        {"closed_at": data.closed_at, "outcome": data.outcome},
        where=lambda excluded: table.c.closed_at.is_(None) | (table.c.closed_at <= excluded.closed_at),
    )


@projections.on(ComplaintReceivedV1)
async def _complaint_received(session: AsyncSession, data: ComplaintReceivedV1, _: DecodedEvent) -> None:
    values = {"district_code": data.district_code, "category": data.category, "received_at": data.received_at}
    # the receipt is authoritative for district and category, whether the triage came first or not
    await repo.upsert(session, ProjComplaint, {"complaint_id": data.complaint_id, **values}, ["complaint_id"], values)


@projections.on(ComplaintTriagedV1)
async def _complaint_triaged(session: AsyncSession, data: ComplaintTriagedV1, _: DecodedEvent) -> None:
    table = ProjComplaint.__table__
    # of two triages the later one stands, whatever order they arrive in
    await repo.upsert(
        session,
        ProjComplaint,
        {
            "complaint_id": data.complaint_id,
            "district_code": data.district_code,
            "triaged_at": data.triaged_at,
            "action": data.action,
        },
        ["complaint_id"],
        {"triaged_at": data.triaged_at, "action": data.action},
        where=lambda excluded: table.c.triaged_at.is_(None) | (table.c.triaged_at <= excluded.triaged_at),
    )


async def project(session: AsyncSession, event: DecodedEvent) -> None:
    """Apply one event to the projections (most event types concern none of them)."""
    await projections.dispatch(session, event)
