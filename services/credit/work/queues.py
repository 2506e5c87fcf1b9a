"""The credit service's queues (``shared.work``): what the credit officers act on, overseen by the
supervisors. The credit record is the city's (one 诚信档案); an institution's district is the one
its record took from filing's events. A person's list stay (an industry ban) belongs to the
institution where the fact that caused it happened (涉事机构: the institution's entry of the same
fact, e.g. the confirmed violation), and so to that district; a person's repair, to none (only
city-wide callers see it). No deadline for deciding a repair is configured in the credit policy, so repairs
carry none and come oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Text, and_, case, cast, func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import aliased

from services.credit.models import CreditEntry, CreditListMembership, CreditRepair, CreditSubject
from shared.work import Action, QuerySelect, Queue, QueueContext, WorkItem, in_districts, item_from_row
from shared.workdays import CHINA

CREDIT_OFFICER = "credit_officer"
OVERSEERS = ("supervisor",)
LIST_ZH = {"serious_dishonesty": "严重失信主体名单", "industry_ban": "从业禁止名单"}


def _subject(kind_column: Any, id_column: Any) -> Any:
    return and_(CreditSubject.subject_kind == kind_column, CreditSubject.subject_id == id_column)


def _repairs(ctx: QueueContext) -> QuerySelect:
    return (
        select(
            CreditRepair.id.label("id"),
            CreditRepair.subject_kind.label("subject_kind"),
            CreditRepair.subject_id.label("subject_id"),
            CreditSubject.display_name.label("display_name"),
            CreditSubject.district_code.label("district_code"),
            cast(None, Date).label("deadline"),
            CreditRepair.applied_at.label("since"),
        )
        .outerjoin(CreditSubject, _subject(CreditRepair.subject_kind, CreditRepair.subject_id))
        .where(CreditRepair.status == "pending", in_districts(CreditSubject.district_code, ctx))
    )


def _institution(row: Row[Any]) -> tuple[Any, str | None]:
    if row.subject_kind == "institution" and row.display_name:
        return row.subject_id, row.display_name
    return None, None


def _repair_item(row: Row[Any], ctx: QueueContext) -> WorkItem:
    institution_id, name = _institution(row)
    return item_from_row(
        REPAIRS,
        ctx,
        row,
        kind="credit_repair",
        title_zh=f"{name or '从业人员'}：信用修复申请待决定",
        institution_id=institution_id,
        institution_name=name,
        deadline=None,
        link=f"/v1/credit/repairs/{row.id}",
    )


def _cause_institution() -> Any:
    """The id of the institution where a membership's first cause happened: the institution whose
    entry is of the same fact (source_key, e.g. the confirmed violation) as a cause entry."""
    cause, same_fact = aliased(CreditEntry), aliased(CreditEntry)
    place = aliased(CreditSubject)
    return (
        select(place.subject_id)
        .select_from(cause)
        .join(same_fact, and_(same_fact.source_key == cause.source_key, same_fact.subject_kind == "institution"))
        .join(place, and_(place.subject_kind == "institution", place.subject_id == same_fact.subject_id))
        .where(cast(cause.id, Text) == func.any(CreditListMembership.cause_entry_ids))
        .order_by(cause.effective_from, cause.id)
        .limit(1)
        .scalar_subquery()
    )


def _entered(ctx: QueueContext, *, bans: bool) -> QuerySelect:
    # entered on or after the Beijing day ``days`` ago
    first_day = ctx.today - timedelta(days=int(ctx.params.get("days") or 30))
    since = datetime.combine(first_day, time(), tzinfo=CHINA).astimezone(UTC)
    which = (
        CreditListMembership.list_name == "industry_ban" if bans else CreditListMembership.list_name != "industry_ban"
    )
    cause_id = _cause_institution()
    # an institution's stay is its own; a person's, the institution where its cause happened
    place_id = case(
        (CreditListMembership.subject_kind == "institution", CreditListMembership.subject_id), else_=cause_id
    )
    place = aliased(CreditSubject)
    return (
        select(
            CreditListMembership.id.label("id"),
            CreditListMembership.list_name.label("list_name"),
            CreditListMembership.subject_kind.label("subject_kind"),
            CreditListMembership.reason.label("reason"),
            place.subject_id.label("institution_id"),
            place.display_name.label("institution_name"),
            place.district_code.label("district_code"),
            cast(None, Date).label("deadline"),
            CreditListMembership.entered_at.label("since"),
        )
        .outerjoin(place, and_(place.subject_kind == "institution", place.subject_id == place_id))
        .where(
            which,
            CreditListMembership.left_at.is_(None),
            CreditListMembership.entered_at >= since,
            in_districts(place.district_code, ctx),
        )
    )


def _entry_item(queue: Queue) -> Any:
    def item(row: Row[Any], ctx: QueueContext) -> WorkItem:
        listed = LIST_ZH.get(row.list_name, row.list_name)
        # a person is not named in the list of work (the list itself names them to credit officers)
        who = row.institution_name if row.subject_kind == "institution" else f"{row.institution_name or ''}从业人员"
        return item_from_row(
            queue,
            ctx,
            row,
            kind="list_entry",
            title_zh=f"{who or '从业人员'}：新列入{listed}（{row.reason}）",
            deadline=None,
            link=f"/v1/credit/lists/{row.list_name}",
        )

    return item


REPAIRS: Queue = Queue(
    name="repairs_pending",
    title_zh="信用修复申请待决定",
    action=Action("decide_repair", "作出信用修复决定", CREDIT_OFFICER),
    overseers=OVERSEERS,
    query=_repairs,
    item=_repair_item,
    description="Credit-repair applications (信用修复) awaiting a decision, oldest first (no decision deadline "
    "is configured in the credit policy).",
)
LIST_ENTRIES: Queue = Queue(
    name="list_entries_new",
    title_zh="新列入严重失信主体名单",
    action=Action("apply_sanctions", "落实联合惩戒措施", CREDIT_OFFICER),
    overseers=OVERSEERS,
    query=lambda ctx: _entered(ctx, bans=False),
    item=lambda row, ctx: _entry_item(LIST_ENTRIES)(row, ctx),
    description="Subjects entered on a list other than the industry ban (严重失信主体名单) in the last `days` "
    "(default 30) and still on it.",
    extra_params=(("days", "entered within this many days (default 30)"),),
)
BANS: Queue = Queue(
    name="bans_new",
    title_zh="新增从业禁止",
    action=Action("notify_ban", "通知落实从业禁止", CREDIT_OFFICER),
    overseers=OVERSEERS,
    query=lambda ctx: _entered(ctx, bans=True),
    item=lambda row, ctx: _entry_item(BANS)(row, ctx),
    description="Persons banned from the industry (从业禁止) in the last `days` (default 30) and still banned; "
    "a person has no district, so only city-wide callers see them.",
    extra_params=(("days", "banned within this many days (default 30)"),),
)

QUEUES: tuple[Queue, ...] = (REPAIRS, LIST_ENTRIES, BANS)
