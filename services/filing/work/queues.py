"""The filing service's queues (``shared.work``): what filing officers act on, in their districts.

Training hours are measured against ``services.filing.staff.training.TRAINING_REQUIREMENTS`` (the
principal's 60 hours of WS/T 821—2023 5.2.1), the one place the requirement is stated.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Date, Numeric, case, cast, func, literal, select
from sqlalchemy.engine import Row

from services.filing.annual_reports.models import AnnualReport, AnnualReportOverdue
from services.filing.models import Institution, InstitutionChange, InstitutionSuspension
from services.filing.staff.models import ROLE_ZH, StaffingStatus, StaffMember
from services.filing.staff.training import TRAINING_REQUIREMENTS
from shared.work import Action, QuerySelect, Queue, QueueContext, WorkItem, in_districts, item_from_row

DECIDE_FILING = Action("decide_filing", "作出备案决定", "filing_officer")
OVERSEERS = ("supervisor",)


def _decisions(ctx: QueueContext, *, overdue: bool) -> QuerySelect:
    late = Institution.decision_due < ctx.today
    return select(
        Institution.id.label("id"),
        Institution.name.label("institution_name"),
        Institution.district_code.label("district_code"),
        Institution.decision_due.label("deadline"),
        Institution.submitted_at.label("since"),
        Institution.submission.label("submission"),
    ).where(
        Institution.status == "submitted",
        late if overdue else (Institution.decision_due.is_(None) | ~late),
        in_districts(Institution.district_code, ctx),
    )


def _decision_item(queue: Queue) -> Any:
    def item(row: Row[Any], ctx: QueueContext) -> WorkItem:
        again = f"（第{row.submission}次提交）" if row.submission > 1 else ""
        return item_from_row(
            queue,
            ctx,
            row,
            kind="filing",
            title_zh=f"{row.institution_name}：备案申请待决定{again}",
            institution_id=row.id,
            link=f"/v1/institutions/{row.id}",
        )

    return item


def _changes(ctx: QueueContext) -> QuerySelect:
    return (
        select(
            InstitutionChange.id.label("id"),
            Institution.id.label("institution_id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            InstitutionChange.decision_due.label("deadline"),
            InstitutionChange.requested_at.label("since"),
            InstitutionChange.changes.label("changes"),
        )
        .join(Institution, Institution.id == InstitutionChange.institution_id)
        .where(InstitutionChange.status == "pending", in_districts(Institution.district_code, ctx))
    )


def _change_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    fields = "、".join(sorted(row.changes)) if isinstance(row.changes, dict) else ""
    return item_from_row(
        CHANGES_PENDING,
        ctx,
        row,
        kind="change",
        title_zh=f"{row.institution_name}：变更关键事项待决定（{fields}）",
        link=f"/v1/institutions/{row.institution_id}",
    )


def _reports_missing(ctx: QueueContext) -> QuerySelect:
    # the deadline sweep's marks (made the day after the due date) of a filed institution, while the
    # year's report is still missing; a later report takes the item off the list
    reported = (
        select(literal(1))
        .where(AnnualReport.institution_id == AnnualReportOverdue.institution_id)
        .where(AnnualReport.year == AnnualReportOverdue.year)
        .exists()
    )
    query = (
        select(
            func.concat(AnnualReportOverdue.institution_id, ":", AnnualReportOverdue.year).label("id"),
            Institution.id.label("institution_id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            AnnualReportOverdue.due_date.label("deadline"),
            AnnualReportOverdue.marked_at.label("since"),
            AnnualReportOverdue.year.label("year"),
        )
        .join(Institution, Institution.id == AnnualReportOverdue.institution_id)
        .where(Institution.status == "filed", ~reported, in_districts(Institution.district_code, ctx))
    )
    year = ctx.params.get("year")
    return query if year is None else query.where(AnnualReportOverdue.year == year)


def _report_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    return item_from_row(
        REPORTS_MISSING,
        ctx,
        row,
        kind="annual_report",
        title_zh=f"{row.institution_name}：{row.year}年度年报逾期未报送",
        link=f"/v1/institutions/{row.institution_id}/annual-reports/{row.year}",
    )


def _staffing(ctx: QueueContext) -> QuerySelect:
    return (
        select(
            Institution.id.label("id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            cast(None, Date).label("deadline"),
            StaffingStatus.changed_at.label("since"),
            StaffingStatus.shortfalls.label("shortfalls"),
        )
        .join(Institution, Institution.id == StaffingStatus.institution_id)
        .where(
            StaffingStatus.compliant.is_(False),
            Institution.status == "filed",
            in_districts(Institution.district_code, ctx),
        )
    )


def _staffing_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    details = [str(s.get("detail", "")) for s in row.shortfalls or [] if isinstance(s, dict)]
    return item_from_row(
        STAFFING,
        ctx,
        row,
        kind="staffing",
        title_zh=f"{row.institution_name}：{'；'.join(d for d in details if d) or '人员配备不足'}",
        institution_id=row.id,
        deadline=None,
        link=f"/v1/institutions/{row.id}/staffing",
    )


def _earliest_expiry() -> Any:
    """The earliest expiry of a person's health certificate and their certificates that expire."""
    certificate = func.jsonb_array_elements(StaffMember.certificates).table_valued("value").alias("certificate")
    earliest_certificate = (
        select(func.min(cast(certificate.c.value.op("->>")("expires_on"), Date)))
        .select_from(certificate)
        .where(certificate.c.value.op("->>")("expires_on").is_not(None))
        .scalar_subquery()
    )
    # LEAST ignores nulls: a person whose certificates never expire has the health certificate's date
    return func.least(StaffMember.health_certificate_expires_on, earliest_certificate)


def _certificates(ctx: QueueContext) -> QuerySelect:
    earliest = _earliest_expiry()
    horizon = ctx.today + timedelta(days=int(ctx.params.get("days") or 30))
    return (
        select(
            StaffMember.id.label("id"),
            Institution.id.label("institution_id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            earliest.label("deadline"),
            StaffMember.hired_on.label("since"),
            StaffMember.role.label("role"),
            StaffMember.health_certificate_expires_on.label("health_expires"),
        )
        .join(Institution, Institution.id == StaffMember.institution_id)
        .where(
            StaffMember.left_on.is_(None),
            Institution.status == "filed",
            earliest <= horizon,
            in_districts(Institution.district_code, ctx),
        )
    )


def _certificate_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    # the person's name stays on the roster (personal data); the item names the role and the date
    which = "健康证" if row.deadline == row.health_expires else "资格证书"
    state = "已过期" if row.deadline < ctx.today else "即将到期"
    return item_from_row(
        CERTIFICATES,
        ctx,
        row,
        kind="staff_certificate",
        title_zh=f"{row.institution_name}：{ROLE_ZH.get(row.role, row.role)}的{which}{state}（{row.deadline}）",
        link=f"/v1/institutions/{row.institution_id}/staff/{row.id}",
    )


def _training_hours() -> Any:
    """The person's recorded training hours: the sum of the roster's training entries (0 if none)."""
    entry = func.jsonb_array_elements(StaffMember.training).table_valued("value").alias("entry")
    return (
        select(func.coalesce(func.sum(cast(entry.c.value.op("->>")("hours"), Numeric)), 0))
        .select_from(entry)
        .scalar_subquery()
    )


def _training(ctx: QueueContext) -> QuerySelect:
    hours = _training_hours()
    required = case({r.role: cast(r.min_hours, Numeric) for r in TRAINING_REQUIREMENTS}, value=StaffMember.role)
    return (
        select(
            StaffMember.id.label("id"),
            Institution.id.label("institution_id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            cast(None, Date).label("deadline"),
            StaffMember.hired_on.label("since"),
            StaffMember.role.label("role"),
            hours.label("hours"),
        )
        .join(Institution, Institution.id == StaffMember.institution_id)
        .where(
            StaffMember.left_on.is_(None),
            StaffMember.role.in_([r.role for r in TRAINING_REQUIREMENTS]),
            Institution.status == "filed",
            hours < required,
            in_districts(Institution.district_code, ctx),
        )
    )


def _training_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    # the person's name stays on the roster (personal data); the item names the role and the hours
    [requirement] = [r for r in TRAINING_REQUIREMENTS if r.role == row.role]
    return item_from_row(
        TRAINING,
        ctx,
        row,
        kind="staff_training",
        title_zh=f"{row.institution_name}：{ROLE_ZH.get(row.role, row.role)}培训{float(row.hours):g}学时，"
        f"低于{requirement.min_hours:g}学时（{requirement.basis_zh}）",
        deadline=None,
        link=f"/v1/institutions/{row.institution_id}/staff/{row.id}",
    )


def _suspended(ctx: QueueContext) -> QuerySelect:
    return (
        select(
            Institution.id.label("id"),
            Institution.name.label("institution_name"),
            Institution.district_code.label("district_code"),
            cast(None, Date).label("deadline"),
            InstitutionSuspension.suspended_at.label("since"),
            InstitutionSuspension.proposed_outcome.label("proposed_outcome"),
        )
        .join(InstitutionSuspension, InstitutionSuspension.institution_id == Institution.id)
        .where(
            Institution.status == "suspended",
            InstitutionSuspension.decided_at.is_(None),
            in_districts(Institution.district_code, ctx),
        )
    )


def _suspended_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    proposed = {
        "resume": "（已提出恢复收托意见，待另一名备案人员确认）",
        "deregister": "（已提出注销备案意见，待另一名备案人员确认）",
    }
    return item_from_row(
        SUSPENDED,
        ctx,
        row,
        kind="suspension",
        title_zh=f"{row.institution_name}：虐童事件经确认，暂停收托，待作出恢复收托或注销备案的决定"
        f"{proposed.get(row.proposed_outcome or '', '')}",
        institution_id=row.id,
        deadline=None,
        link=f"/v1/institutions/{row.id}/suspension",
    )


DECISIONS_PENDING: Queue = Queue(
    name="filing_decisions_pending",
    title_zh="待作出备案决定",
    action=DECIDE_FILING,
    overseers=OVERSEERS,
    query=lambda ctx: _decisions(ctx, overdue=False),
    item=lambda row, ctx: _decision_item(DECISIONS_PENDING)(row, ctx),
    description="Submitted filings still within their statutory decision deadline (备案办法 Art. 9: 5 working "
    "days from a complete submission, the `decision_due` the service computed with its workday calendar).",
)
DECISIONS_OVERDUE: Queue = Queue(
    name="filing_decisions_overdue",
    title_zh="备案决定已逾期",
    action=DECIDE_FILING,
    overseers=OVERSEERS,
    query=lambda ctx: _decisions(ctx, overdue=True),
    item=lambda row, ctx: _decision_item(DECISIONS_OVERDUE)(row, ctx),
    description="Submitted filings past their decision deadline (`decision_due` before today, Beijing): the "
    "initial decisions the gauge `childcare_filing_decisions_overdue` (alert FilingDecisionsOverdue) counts.",
)
CHANGES_PENDING: Queue = Queue(
    name="filing_changes_pending",
    title_zh="待作出变更决定",
    action=Action("decide_change", "作出变更决定", "filing_officer"),
    overseers=OVERSEERS,
    query=_changes,
    item=_change_item,
    description="Key-field changes (变更) awaiting a decision, with their 5-working-day deadline; overdue ones "
    "show days_overdue > 0 (the change part of `childcare_filing_decisions_overdue`).",
)
REPORTS_MISSING: Queue = Queue(
    name="annual_reports_missing",
    title_zh="逾期未报送年报",
    action=Action("submit_annual_report", "督促并报送年报", "filing_officer"),
    overseers=OVERSEERS,
    query=_reports_missing,
    item=_report_item,
    description="Filed institutions whose annual report for a year is still missing after that year's due date "
    "(marked by the deadline sweep), per year.",
    extra_params=(("year", "only this reporting year (default: every year)"),),
)
STAFFING: Queue = Queue(
    name="staffing_shortfalls",
    title_zh="人员配备不足",
    action=Action("remedy_staffing", "督促补足人员配备", "filing_officer"),
    overseers=OVERSEERS,
    query=_staffing,
    item=_staffing_item,
    description="Filed institutions whose staffing is below the rules (carer ratios per the filed classes, a "
    "principal, health staff), as the roster's last evaluation recorded it; no deadline.",
)
CERTIFICATES: Queue = Queue(
    name="staff_certificates_expiring",
    title_zh="从业人员证件到期",
    action=Action("renew_certificate", "督促更新证件", "filing_officer"),
    overseers=OVERSEERS,
    query=_certificates,
    item=_certificate_item,
    description="Active staff of filed institutions whose health certificate or a certificate with an expiry "
    "date has expired or expires within `days` (default 30); the deadline is the earliest expiry.",
    extra_params=(("days", "certificates expiring within this many days (default 30)"),),
)

TRAINING: Queue = Queue(
    name="staff_training_below_requirement",
    title_zh="从业人员培训学时不足",
    action=Action("complete_training", "督促完成培训学时", "filing_officer"),
    overseers=OVERSEERS,
    query=_training,
    item=_training_item,
    description="Active staff of filed institutions whose recorded training hours are below their role's "
    "requirement (services/filing/staff/training.py: the principal's 60 hours, WS/T 821—2023 5.2.1); the item "
    "names the role and the hours, not the person; no deadline.",
)

SUSPENDED: Queue = Queue(
    name="filings_suspended",
    title_zh="暂停收托待决定",
    action=Action("decide_suspension", "作出恢复收托或注销备案的决定", "filing_officer"),
    overseers=OVERSEERS,
    query=_suspended,
    item=_suspended_item,
    description="Institutions suspended (暂停收托) after a confirmed child-abuse case, awaiting the filing officers' "
    "decision (one proposes resume or deregister at `POST …/suspension/proposal`, another confirms at "
    "`POST …/suspension/decision`); no statutory deadline, oldest suspension first when sorted by since.",
)

QUEUES: tuple[Queue, ...] = (
    DECISIONS_PENDING,
    DECISIONS_OVERDUE,
    CHANGES_PENDING,
    REPORTS_MISSING,
    STAFFING,
    CERTIFICATES,
    TRAINING,
    SUSPENDED,
)
