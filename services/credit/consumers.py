"""What the credit service takes from other services' events (consumer group ``credit``), and the
three decisions of its own that it reads back from its topic so that a replay reproduces them.

Every handler is order-tolerant: an event about a subject whose record is not open yet opens it; an
entry is keyed by the fact it records (violation id, task id, report year), so the same fact sent
twice counts once; and the grade is recomputed from all entries afterwards, never adjusted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.env import BEIJING, CreditEnv, beijing_midnight
from services.credit.evaluation import service as evaluation_service
from services.credit.policy.documents import (
    CHILD_ABUSE_RULE,
    CLEAN_INSPECTION_RULE,
    PERSON_CHILD_ABUSE_RULE,
    QUALITY_EXCELLENT_RULE,
    QUALITY_FAILED_RULE,
    RECTIFIED_RULE,
    REPORT_ON_TIME_RULE,
    REPORT_OVERDUE_RULE,
    UNRECTIFIED_RULE,
    VIOLATION_RULES,
)
from services.credit.records import service as records_service
from services.credit.records.service import Source
from services.credit.repair import service as repair_service
from shared.app import ConsumerSpec, ServiceContext
from shared.batch import BatchCollector
from shared.events import DecodedEvent
from shared.events.credit import CreditPolicyActivatedV1, CreditRepairAppliedV1, CreditRepairDecidedV1
from shared.events.filing import (
    AnnualReportOverdueV1,
    AnnualReportSubmittedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionSubmittedV1,
    StaffHiredV1,
)
from shared.events.inspection import (
    InspectionResultPublishedV1,
    QualityAssessedV1,
    ViolationClosedV1,
    ViolationConfirmedV1,
    ViolationEscalatedV1,
)
from shared.handlers import Handlers
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS

SEVERITY_ZH = {"minor": "轻微", "general": "一般", "serious": "严重", "critical": "特别严重"}


def credit_handlers(ctx: ServiceContext, env: CreditEnv) -> Handlers:
    outbox = ctx.outbox

    def src(event: DecodedEvent) -> Source:
        return Source(event_id=event.envelope.id, event_type=event.envelope.type)

    async def evaluate(session: AsyncSession, subjects: list[tuple[str, str]]) -> None:
        # each subject once, in the order the batch first touched it
        await evaluation_service.reevaluate_many(session, outbox, env, list(dict.fromkeys(subjects)))

    # No reason is passed: the history's reasons are derived from the facts themselves (timeline.py),
    # so that a replay in any order writes the same words. Once per subject per consumed batch, all of
    # the batch's subjects together at its end: the grade and its history are a function of the
    # subject's dated entries, so evaluating after the batch's last entry ends where evaluating after
    # each would.
    regrades = BatchCollector[tuple[str, str]]("credit.regrade", evaluate)
    registry = Handlers()

    async def regrade(session: AsyncSession, kind: str, subject_id: str) -> None:
        await regrades.add(session, (kind, subject_id))

    async def institution(session: AsyncSession, event: DecodedEvent, institution_id: str, at: datetime) -> None:
        """An event that scores nothing still opens the record (and so sets a first grade)."""
        await records_service.open_record(
            session, outbox, kind="institution", subject_id=institution_id, at=at, source=src(event)
        )
        await regrade(session, "institution", institution_id)

    @registry.on(InstitutionSubmittedV1)
    async def on_submitted(session: AsyncSession, data: InstitutionSubmittedV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        await records_service.open_record(
            session,
            outbox,
            kind="institution",
            subject_id=iid,
            at=data.submitted_at,
            source=src(event),
            display_name=data.name,
            district_code=data.district_code,
        )
        await regrade(session, "institution", iid)

    @registry.on(InstitutionFiledV1)
    async def on_filed(session: AsyncSession, data: InstitutionFiledV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        await records_service.open_record(
            session,
            outbox,
            kind="institution",
            subject_id=iid,
            at=data.decided_at,
            source=src(event),
            display_name=data.profile.name,
            district_code=data.profile.district_code,
        )
        await regrade(session, "institution", iid)

    @registry.on(InstitutionDeregisteredV1)
    async def on_deregistered(session: AsyncSession, data: InstitutionDeregisteredV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        await records_service.open_record(
            session, outbox, kind="institution", subject_id=iid, at=data.deregistered_at, source=src(event)
        )
        # The record and its entries stay (诚信档案 outlive the institution); only the date is kept.
        await records_service.mark_deregistered(session, iid, data.deregistered_at)
        await regrade(session, "institution", iid)

    @registry.on(StaffHiredV1)
    async def on_staff_hired(session: AsyncSession, data: StaffHiredV1, event: DecodedEvent) -> None:
        # A person's record carries only the keyed reference, never a name or ID number.
        await records_service.open_record(
            session, outbox, kind="person", subject_id=data.person_ref, at=event.envelope.time, source=src(event)
        )
        await regrade(session, "person", data.person_ref)

    async def entry_for_institution(
        session: AsyncSession,
        event: DecodedEvent,
        institution_id: str,
        *,
        rule_id: str,
        source_key: str,
        effective_from: datetime,
        detail_zh: str,
        legal_basis: str | None = None,
    ) -> None:
        await records_service.open_record(
            session, outbox, kind="institution", subject_id=institution_id, at=effective_from, source=src(event)
        )
        await records_service.record_entry(
            session,
            env,
            kind="institution",
            subject_id=institution_id,
            rule_id=rule_id,
            source_key=source_key,
            source=src(event),
            effective_from=effective_from,
            detail_zh=detail_zh,
            legal_basis=legal_basis,
        )
        await regrade(session, "institution", institution_id)

    @registry.on(AnnualReportSubmittedV1)
    async def on_report_submitted(session: AsyncSession, data: AnnualReportSubmittedV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        if not data.on_time:  # a late report scores nothing (the overdue entry already counts)
            await institution(session, event, iid, data.submitted_at)
            return
        await entry_for_institution(
            session,
            event,
            iid,
            rule_id=REPORT_ON_TIME_RULE,
            source_key=f"annual_report:{data.year}",
            effective_from=data.submitted_at,
            detail_zh=f"{data.year}年度报告按期报送",
        )

    @registry.on(AnnualReportOverdueV1)
    async def on_report_overdue(session: AsyncSession, data: AnnualReportOverdueV1, event: DecodedEvent) -> None:
        # Counts from the day after the due date (Beijing), whenever the sweep noticed it.
        effective = beijing_midnight(data.due_date) + timedelta(days=1)
        await entry_for_institution(
            session,
            event,
            str(data.institution_id),
            rule_id=REPORT_OVERDUE_RULE,
            source_key=f"annual_report:{data.year}",
            effective_from=effective,
            detail_zh=f"{data.year}年度报告逾期未报送（应于{data.due_date.isoformat()}前报送）",
        )

    @registry.on(ViolationConfirmedV1)
    async def on_violation_confirmed(session: AsyncSession, data: ViolationConfirmedV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        key = f"violation:{data.violation_id}"
        detail = f"{data.title_zh}（{data.code}，{SEVERITY_ZH[data.severity]}）：{data.description}"
        if data.child_abuse:
            rule_id = CHILD_ABUSE_RULE
        else:
            rule_id = VIOLATION_RULES[data.severity]
        await records_service.open_record(
            session, outbox, kind="institution", subject_id=iid, at=data.confirmed_at, source=src(event)
        )
        await records_service.record_entry(
            session,
            env,
            kind="institution",
            subject_id=iid,
            rule_id=rule_id,
            source_key=key,
            source=src(event),
            effective_from=data.confirmed_at,
            detail_zh=detail,
            # The violation's own article; the child-abuse rule's basis (zero tolerance) is in the policy.
            legal_basis=None if data.child_abuse else data.legal_basis,
        )
        await regrade(session, "institution", iid)
        if data.person_ref is None:
            return
        person_rule = PERSON_CHILD_ABUSE_RULE if data.child_abuse else rule_id
        await records_service.open_record(
            session, outbox, kind="person", subject_id=data.person_ref, at=data.confirmed_at, source=src(event)
        )
        await records_service.record_entry(
            session,
            env,
            kind="person",
            subject_id=data.person_ref,
            rule_id=person_rule,
            source_key=key,
            source=src(event),
            effective_from=data.confirmed_at,
            detail_zh=f"{detail}（涉事机构 {iid}）",
            legal_basis=None if data.child_abuse else data.legal_basis,
        )
        await regrade(session, "person", data.person_ref)

    @registry.on(ViolationEscalatedV1)
    async def on_violation_escalated(session: AsyncSession, data: ViolationEscalatedV1, event: DecodedEvent) -> None:
        await entry_for_institution(
            session,
            event,
            str(data.institution_id),
            rule_id=UNRECTIFIED_RULE,
            source_key=f"violation:{data.violation_id}",
            effective_from=data.escalated_at,
            detail_zh=f"违法违规行为（{SEVERITY_ZH[data.severity]}）逾期未整改，整改期限{data.rectification_due.isoformat()}",
        )

    @registry.on(ViolationClosedV1)
    async def on_violation_closed(session: AsyncSession, data: ViolationClosedV1, event: DecodedEvent) -> None:
        await entry_for_institution(
            session,
            event,
            str(data.institution_id),
            rule_id=RECTIFIED_RULE,
            source_key=f"violation:{data.violation_id}",
            effective_from=data.closed_at,
            detail_zh=f"违法违规行为{data.violation_id}经复查整改到位",
        )

    @registry.on(InspectionResultPublishedV1)
    async def on_result_published(
        session: AsyncSession, data: InspectionResultPublishedV1, event: DecodedEvent
    ) -> None:
        iid = str(data.institution_id)
        if data.conclusion != "compliant" or data.violation_count != 0:
            await institution(session, event, iid, data.published_at)  # violations count through ViolationConfirmedV1
            return
        await entry_for_institution(
            session,
            event,
            iid,
            rule_id=CLEAN_INSPECTION_RULE,
            source_key=f"inspection:{data.task_id}",
            effective_from=data.published_at,
            detail_zh=f"检查未发现问题（{data.inspected_at.astimezone(BEIJING).date().isoformat()}）：{data.summary_zh}",
        )

    @registry.on(QualityAssessedV1)
    async def on_quality_assessed(session: AsyncSession, data: QualityAssessedV1, event: DecodedEvent) -> None:
        iid = str(data.institution_id)
        # Only an on-site assessment scores (a self-assessment is the institution's own claim); a
        # failed one (veto item unmet, or the lowest grade) counts against, an A for; B/C score nothing.
        rule_id: str | None = None
        if data.kind == "onsite":
            if data.veto_failed or data.grade == "D":
                rule_id = QUALITY_FAILED_RULE
            elif data.grade == "A":
                rule_id = QUALITY_EXCELLENT_RULE
        if rule_id is None or not all(
            rule_id in p.rules for v in env.registry.versions() if (p := env.registry.get(v))
        ):
            await institution(session, event, iid, data.assessed_at)
            return
        veto = f"，否决项未达标：{'、'.join(data.veto_failed_items)}" if data.veto_failed else ""
        await entry_for_institution(
            session,
            event,
            iid,
            rule_id=rule_id,
            source_key=f"quality:{data.assessment_id}",
            effective_from=data.assessed_at,
            detail_zh=(
                f"质量现场评估（{data.scheme_version}）：{data.score:g}/{data.max_score:g}分，等级{data.grade}{veto}"
            ),
        )

    # --- the credit service's own decisions, read back from its topic (record_* of repair and evaluation) ---
    # Only these three of the credit topic: the service's outputs (grades, lists) are not inputs.

    @registry.on(CreditRepairAppliedV1)
    async def on_repair_applied(session: AsyncSession, data: CreditRepairAppliedV1, event: DecodedEvent) -> None:
        await repair_service.record_repair_application(session, data)

    @registry.on(CreditRepairDecidedV1)
    async def on_repair_decided(session: AsyncSession, data: CreditRepairDecidedV1, event: DecodedEvent) -> None:
        await repair_service.record_repair_decision(session, outbox, env, data)

    @registry.on(CreditPolicyActivatedV1)
    async def on_policy_activated(session: AsyncSession, data: CreditPolicyActivatedV1, event: DecodedEvent) -> None:
        await evaluation_service.record_policy_activation(session, outbox, env, data)

    return registry


def make_consumers(env: CreditEnv) -> Callable[[ServiceContext], list[ConsumerSpec]]:
    def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                name="credit",
                topics=[FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS],
                handlers=credit_handlers(ctx, env),
            )
        ]

    return consumers
