"""The inspection service's queues (``shared.work``): what the supervisors (科室负责人) act on.

An institution's name and district come from the target pool (the projection of filing's events);
an unlicensed site's from its case. Complaints have no triage deadline in the platform (none is
configured), so that queue's items carry none and come oldest first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Date, Text, and_, cast, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row

from services.inspection.complaints.models import Complaint
from services.inspection.complaints.schemas import CATEGORY_ZH
from services.inspection.plans.models import Plan
from services.inspection.pool.models import TargetInstitution
from services.inspection.tasks.models import Task, Violation
from services.inspection.tasks.service import SEVERITY_ZH
from services.inspection.unlicensed.models import GuidanceStepRow, UnlicensedCase
from shared.work import Action, QuerySelect, Queue, QueueContext, WorkItem, in_districts, item_from_row

SUPERVISOR = "supervisor"


def _task_district() -> Any:
    return func.coalesce(TargetInstitution.district_code, UnlicensedCase.district_code)


def _reviews(ctx: QueueContext) -> QuerySelect:
    district = _task_district()
    return (
        select(
            Task.id.label("id"),
            Task.institution_id.label("institution_id"),
            TargetInstitution.name.label("institution_name"),
            UnlicensedCase.operator_name.label("operator_name"),
            district.label("district_code"),
            Task.publication_due.label("deadline"),
            Task.submitted_at.label("since"),
            Task.kind.label("task_kind"),
        )
        .outerjoin(TargetInstitution, TargetInstitution.institution_id == Task.institution_id)
        .outerjoin(UnlicensedCase, UnlicensedCase.id == Task.case_id)
        .where(Task.status == "submitted", in_districts(district, ctx))
    )


def _review_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    what = "双随机检查" if row.task_kind == "random" else "定向检查"
    subject = row.institution_name or row.operator_name or "无证照场所"
    return item_from_row(
        REVIEWS,
        ctx,
        row,
        kind="task",
        title_zh=f"{subject}：{what}已提交，待审核并公开结果",
        institution_id=row.institution_id if row.institution_name else None,
        link=f"/v1/tasks/{row.id}",
    )


def _violations(ctx: QueueContext, *statuses: str) -> QuerySelect:
    return (
        select(
            Violation.id.label("id"),
            Violation.institution_id.label("institution_id"),
            Violation.task_id.label("task_id"),
            TargetInstitution.name.label("institution_name"),
            TargetInstitution.district_code.label("district_code"),
            Violation.rectification_due.label("deadline"),
            Violation.confirmed_at.label("since"),
            Violation.severity.label("severity"),
        )
        .join(TargetInstitution, TargetInstitution.institution_id == Violation.institution_id)
        .where(Violation.status.in_(statuses), in_districts(TargetInstitution.district_code, ctx))
    )


def _rectifications_due(ctx: QueueContext) -> QuerySelect:
    return _violations(ctx, "confirmed").where(Violation.rectification_due >= ctx.today)


def _rectifications_overdue(ctx: QueueContext) -> QuerySelect:
    # past the deadline and not yet escalated (the sweep escalates them within the minute)
    return _violations(ctx, "confirmed").where(Violation.rectification_due < ctx.today)


def _follow_ups(ctx: QueueContext) -> QuerySelect:
    # a rectification was reported and no follow-up inspection of it is under way or done
    ordered = select(literal(1)).where(Task.follow_up_of == Violation.id).exists()
    return _violations(ctx, "rectification_reported").where(~ordered)


def _violation_item(queue: Queue, text: str) -> Any:
    def item(row: Row[Any], ctx: QueueContext) -> WorkItem:
        return item_from_row(
            queue,
            ctx,
            row,
            kind="violation",
            title_zh=f"{row.institution_name}：{SEVERITY_ZH.get(row.severity, row.severity)}违规{text}",
            link=f"/v1/tasks/{row.task_id}",
        )

    return item


def _complaints(ctx: QueueContext) -> QuerySelect:
    return select(
        Complaint.id.label("id"),
        Complaint.institution_id.label("institution_id"),
        Complaint.institution_name.label("institution_name"),
        Complaint.address.label("address"),
        Complaint.district_code.label("district_code"),
        cast(None, Date).label("deadline"),
        Complaint.received_at.label("since"),
        Complaint.category.label("category"),
    ).where(Complaint.status == "received", in_districts(Complaint.district_code, ctx))


def _complaint_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    about = row.institution_name or "无证照场所"
    return item_from_row(
        COMPLAINTS,
        ctx,
        row,
        kind="complaint",
        title_zh=f"{about}：{CATEGORY_ZH.get(row.category, row.category)}投诉待分办",
        deadline=None,
        link=f"/v1/complaints/{row.id}",
    )


def _cases(ctx: QueueContext) -> QuerySelect:
    open_step = and_(GuidanceStepRow.completed_at.is_(None), GuidanceStepRow.due_on < ctx.today)
    earliest = func.min(GuidanceStepRow.due_on)
    return (
        select(
            UnlicensedCase.id.label("id"),
            UnlicensedCase.operator_name.label("operator_name"),
            UnlicensedCase.address.label("address"),
            UnlicensedCase.district_code.label("district_code"),
            earliest.label("deadline"),
            UnlicensedCase.opened_at.label("since"),
            func.count().label("steps_overdue"),
        )
        .join(GuidanceStepRow, GuidanceStepRow.case_id == UnlicensedCase.id)
        .where(UnlicensedCase.status == "open", open_step, in_districts(UnlicensedCase.district_code, ctx))
        .group_by(UnlicensedCase.id)
    )


def _case_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    site = row.operator_name or row.address or "无证照场所"
    return item_from_row(
        CASES,
        ctx,
        row,
        kind="unlicensed_case",
        title_zh=f"{site}：一园一策整治步骤逾期{row.steps_overdue}项",
        institution_id=None,
        institution_name=None,
        link=f"/v1/unlicensed-cases/{row.id}",
    )


def _plans(ctx: QueueContext) -> QuerySelect:
    horizon = ctx.today + timedelta(days=int(ctx.params.get("days") or 30))
    # a plan spans districts: it is the caller's when it covers one of them (an empty list: the city)
    mine = (
        true()
        if ctx.districts is None
        else or_(
            Plan.districts.overlap(cast(sorted(ctx.districts), ARRAY(Text))),
            func.cardinality(Plan.districts) == 0,
        )
    )
    return select(
        Plan.id.label("id"),
        Plan.name.label("name"),
        Plan.districts.label("districts"),
        Plan.window_start.label("deadline"),
        Plan.created_at.label("since"),
        Plan.status.label("status"),
    ).where(Plan.status.in_(("draft", "committed")), Plan.window_start <= horizon, mine)


COMMIT_PLAN = Action("commit_plan", "公布抽查计划（承诺）", SUPERVISOR)
DRAW_PLAN = Action("draw_plan", "摇号抽取检查对象", SUPERVISOR)


def _plan_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    action = COMMIT_PLAN if row.status == "draft" else DRAW_PLAN
    stage = "尚未公布" if row.status == "draft" else "已公布，尚未抽取"
    return item_from_row(
        PLANS,
        ctx,
        row,
        kind="plan",
        title_zh=f"{row.name}：{stage}，检查期自{row.deadline}开始",
        institution_id=None,
        institution_name=None,
        district_code=row.districts[0] if len(row.districts) == 1 else None,
        link=f"/v1/plans/{row.id}",
        action=action,
    )


REVIEWS: Queue = Queue(
    name="tasks_awaiting_review",
    title_zh="检查任务待审核",
    action=Action("review_task", "审核并公开检查结果", SUPERVISOR),
    overseers=(),
    query=_reviews,
    item=_review_item,
    description="Submitted tasks (every team member signed) awaiting review; the deadline is the result's "
    "publication deadline (一公开, `publication_working_days` working days after submission).",
)
RECTIFICATIONS_DUE: Queue = Queue(
    name="rectifications_due",
    title_zh="整改期限内待报告",
    action=Action("record_rectification", "登记整改报告", SUPERVISOR),
    overseers=(),
    query=_rectifications_due,
    item=lambda row, ctx: _violation_item(RECTIFICATIONS_DUE, "待整改")(row, ctx),
    description="Confirmed violations within their rectification deadline, no rectification reported yet.",
)
RECTIFICATIONS_OVERDUE: Queue = Queue(
    name="rectifications_overdue",
    title_zh="整改已逾期",
    action=Action("record_rectification", "登记整改报告", SUPERVISOR),
    overseers=(),
    query=_rectifications_overdue,
    item=lambda row, ctx: _violation_item(RECTIFICATIONS_OVERDUE, "整改逾期")(row, ctx),
    description="Confirmed violations past their rectification deadline that the escalation sweep has not "
    "escalated yet.",
)
RECTIFICATIONS_ESCALATED: Queue = Queue(
    name="rectifications_escalated",
    title_zh="逾期未整改已升级",
    action=Action("order_targeted_inspection", "安排定向检查并依法处置", SUPERVISOR),
    overseers=(),
    query=lambda ctx: _violations(ctx, "escalated"),
    item=lambda row, ctx: _violation_item(RECTIFICATIONS_ESCALATED, "逾期未整改，已升级")(row, ctx),
    description="Violations escalated for a missed rectification deadline (逾期未整改), until a follow-up "
    "inspection verifies the correction.",
)
FOLLOW_UPS: Queue = Queue(
    name="follow_ups_due",
    title_zh="整改待复查",
    action=Action("order_follow_up", "安排复查", SUPERVISOR),
    overseers=(),
    query=_follow_ups,
    item=lambda row, ctx: _violation_item(FOLLOW_UPS, "已报告整改，待复查")(row, ctx),
    description="Violations whose rectification was reported and that no follow-up inspection "
    "(POST /v1/targeted-inspections with follow_up_of) covers yet; the deadline is the rectification deadline.",
)
COMPLAINTS: Queue = Queue(
    name="complaints_untriaged",
    title_zh="投诉待分办",
    action=Action("triage_complaint", "分办投诉", SUPERVISOR),
    overseers=(),
    query=_complaints,
    item=_complaint_item,
    description="Complaints received and not yet triaged, oldest first (no triage deadline is configured).",
)
CASES: Queue = Queue(
    name="unlicensed_steps_overdue",
    title_zh="无证照整治步骤逾期",
    action=Action("advance_guidance", "推进一园一策整治步骤", SUPERVISOR),
    overseers=(),
    query=_cases,
    item=_case_item,
    description="Open unlicensed-operator cases with guidance steps (一园一策) past their date; the deadline is "
    "the earliest overdue step's (the gauge childcare_unlicensed_guidance_steps_overdue counts the steps).",
)
PLANS: Queue = Queue(
    name="plans_nearing_deadline",
    title_zh="抽查计划临近检查期",
    action=COMMIT_PLAN,
    overseers=(),
    query=_plans,
    item=_plan_item,
    description="Random plans not yet drawn whose inspection window starts within `days` (default 30) or has "
    "started: a draft still to be published (committed), a committed plan still to be drawn. The deadline "
    "is the window's start; the action is commit_plan or draw_plan by the plan's stage.",
    extra_params=(("days", "windows starting within this many days (default 30)"),),
)

QUEUES: tuple[Queue, ...] = (
    REVIEWS,
    RECTIFICATIONS_DUE,
    RECTIFICATIONS_OVERDUE,
    RECTIFICATIONS_ESCALATED,
    FOLLOW_UPS,
    COMPLAINTS,
    CASES,
    PLANS,
)
