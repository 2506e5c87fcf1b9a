"""Field tasks (检查任务): assignment, the inspectors' mobile workflow, review and publication (一公开),
and rectification (整改) of confirmed violations.

Only team members write a task; supervisors review it. No commits here: the caller's unit of work
owns the transaction, and every state change writes its event to the outbox in it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.common import distance_m
from services.inspection.errors import (
    IllegalViolationTransition,
    InspectorInactive,
    InspectorNotFound,
    InstitutionNotInPool,
    NotAnInspector,
    NotOnTeam,
    RemovedFromTeam,
    ReviewerOnTeam,
    TaskAlreadyReviewed,
    TaskClosed,
    TaskNeedsReassignment,
    TaskNotFound,
    TaskNotSubmitted,
    ViolationNotFound,
)
from services.inspection.pool import repository as pool_repository
from services.inspection.pool.models import Inspector, TargetInstitution, TargetStaff
from services.inspection.reference import CHILD_ABUSE_CODE, SEVERITIES, checklist, violation_catalogue
from services.inspection.tasks import repository
from services.inspection.tasks.models import CheckIn, Finding, PublishedResult, Task, TaskMember, Violation
from services.inspection.unlicensed import repository as unlicensed_repository
from services.inspection.unlicensed import service as unlicensed_service
from services.inspection.unlicensed.errors import CaseClosed, CaseNotFound, SiteLocationUnknown
from services.inspection.unlicensed.models import UnlicensedCase
from shared.auth import Principal
from shared.errors import AppError, InvalidInput
from shared.events.inspection import (
    CONCLUSION_ZH,
    InspectionResultPublishedV1,
    RectificationReportedV1,
    TaskAssignedV1,
    TaskCheckedInV1,
    TaskInspectorRemovedV1,
    TaskSubmittedV1,
    ViolationClosedV1,
    ViolationConfirmedV1,
    ViolationEscalatedV1,
    ViolationRecordedV1,
)
from shared.outbox import Outbox
from shared.workdays import WorkdayCalendar, china_today

CLOSED = ("submitted", "reviewed")
OPEN = ("assigned", "in_progress")
SEVERITY_ZH = {"minor": "轻微", "general": "一般", "serious": "严重", "critical": "特别严重"}


# --- assignment ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTask:
    institution_id: uuid.UUID
    inspector_ids: list[uuid.UUID]
    kind: str
    checklist: list[str]
    due_by: date
    publication_working_days: int
    plan_id: uuid.UUID | None = None
    reason: str | None = None
    follow_up_of: uuid.UUID | None = None
    case_id: uuid.UUID | None = None


async def create_task(session: AsyncSession, outbox: Outbox, new: NewTask, *, now: datetime) -> Task:
    task = Task(
        id=uuid.uuid4(),
        plan_id=new.plan_id,
        institution_id=new.institution_id,
        kind=new.kind,
        reason=new.reason,
        follow_up_of=new.follow_up_of,
        case_id=new.case_id,
        checklist=list(new.checklist),
        status="assigned",
        due_by=new.due_by,
        publication_working_days=new.publication_working_days,
        created_at=now,
        publication_due_provisional=False,
    )
    await repository.add(session, task)
    await repository.add(
        session,
        *[TaskMember(task_id=task.id, inspector_id=i, position=n) for n, i in enumerate(new.inspector_ids)],
    )
    await outbox.add(
        session,
        TaskAssignedV1(
            task_id=task.id,
            plan_id=new.plan_id,
            institution_id=new.institution_id,
            kind="random" if new.kind == "random" else "targeted",
            inspector_ids=list(new.inspector_ids),
            due_by=new.due_by,
            assigned_at=now,
        ),
        subject=str(new.institution_id),
    )
    return task


@dataclass(frozen=True)
class TargetedInput:
    institution_id: uuid.UUID | None
    inspector_ids: list[uuid.UUID]
    reason: str
    reason_detail: str
    due_by: date
    checklist_items: list[str] | None
    follow_up_of: uuid.UUID | None
    publication_working_days: int
    case_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Target:
    """Who a targeted inspection visits: a filed institution, or an unlicensed case's site."""

    institution_id: uuid.UUID
    district_code: str
    case_id: uuid.UUID | None


# An unlicensed site has no filing to check against: by default its inspection covers the
# qualification items (资质与公示) of the checklist.
SITE_CHECKLIST_AREA = "资质与公示"


async def _target(session: AsyncSession, data: TargetedInput) -> _Target:
    if (data.institution_id is None) == (data.case_id is None):
        raise InvalidInput(
            "请指定被检查的已备案机构（institution_id）或无证照机构案件（case_id），二者选其一",
            code="target_required",
            field="institution_id",
        )
    if data.case_id is not None:
        case = await unlicensed_repository.get(session, data.case_id)
        if case is None:
            raise CaseNotFound(field="case_id")
        if case.status != "open":
            raise CaseClosed(field="case_id")
        return _Target(institution_id=case.id, district_code=case.district_code, case_id=case.id)
    assert data.institution_id is not None
    institution = await pool_repository.get_institution(session, data.institution_id)
    if institution is None or institution.status != "filed":
        raise InstitutionNotInPool(field="institution_id")
    return _Target(institution_id=institution.institution_id, district_code=institution.district_code, case_id=None)


async def _check_team(
    session: AsyncSession, inspector_ids: Sequence[uuid.UUID], district_code: str, institution_id: uuid.UUID
) -> None:
    """Every member exists, is active, covers the district and has no declared conflict (回避)."""
    found = {i.id: i for i in await pool_repository.inspectors(session, ids=list(inspector_ids))}
    for n, inspector_id in enumerate(inspector_ids):
        inspector = found.get(inspector_id)
        where = f"inspector_ids.{n}"
        if inspector is None:
            raise InspectorNotFound(field=where)
        if not inspector.active:
            raise InvalidInput(f"检查人员{inspector.name}已停用", code="inspector_inactive", field=where)
        if district_code not in inspector.districts:
            raise InvalidInput(
                f"检查人员{inspector.name}不负责该机构所在区", code="inspector_out_of_district", field=where
            )
        if await pool_repository.conflict_exists(session, inspector_id, institution_id):
            raise InvalidInput(
                f"检查人员{inspector.name}已声明与该机构存在利害关系，应当回避",
                code="inspector_conflicted",
                field=where,
            )


async def create_targeted(session: AsyncSession, outbox: Outbox, data: TargetedInput, *, now: datetime) -> Task:
    """A targeted inspection (complaint, follow-up, referral) outside the random draw, marked as such;
    the team is chosen by the supervisor but must still respect districts and conflicts (回避). The
    target is a filed institution, or the site of an open unlicensed-operator case."""
    institution = await _target(session, data)
    if data.due_by < china_today(now):
        raise InvalidInput("完成期限不能早于今天", code="due_in_past", field="due_by")
    await _check_team(session, data.inspector_ids, institution.district_code, institution.institution_id)
    if data.checklist_items:
        items = list(data.checklist_items)
    elif institution.case_id is not None:
        items = [c.code for c in checklist().values() if c.area == SITE_CHECKLIST_AREA]
    else:
        items = list(checklist())
    if data.follow_up_of is not None:
        violation = await repository.violation(session, data.follow_up_of)
        if violation is None or violation.institution_id != institution.institution_id:
            raise ViolationNotFound(field="follow_up_of")
        if violation.status not in ("confirmed", "rectification_reported"):
            raise IllegalViolationTransition("该违规记录不在待整改状态，无需复查", field="follow_up_of")
    return await create_task(
        session,
        outbox,
        NewTask(
            institution_id=institution.institution_id,
            inspector_ids=list(data.inspector_ids),
            kind="targeted",
            checklist=items,
            due_by=data.due_by,
            publication_working_days=data.publication_working_days,
            reason=f"{data.reason}: {data.reason_detail}",
            follow_up_of=data.follow_up_of,
            case_id=institution.case_id,
        ),
        now=now,
    )


# --- access ---------------------------------------------------------------------------------------


async def caller_inspector(session: AsyncSession, principal: Principal) -> Inspector:
    inspector = await pool_repository.inspector_by_subject(session, principal.subject)
    if inspector is None or not principal.has("inspector"):
        raise NotAnInspector()
    if not inspector.active:
        raise InspectorInactive()
    return inspector


@dataclass
class Access:
    task: Task
    members: list[TaskMember]  # the current team
    inspector: Inspector | None  # the caller, when the caller is an active member of the team


async def access(session: AsyncSession, task_id: uuid.UUID, principal: Principal, *, write: bool) -> Access:
    """Active team members read and write their task; supervisors and operations only read. Anyone
    else gets 403 (an unknown task 404), so one inspector never sees another team's work: a
    deactivated inspector (``inspector_inactive``) and one taken off the team (``removed_from_team``,
    e.g. for a conflict of interest declared after the assignment) included."""
    task = await repository.get(session, task_id, lock=write)
    if task is None:
        raise TaskNotFound()
    members = list(await repository.members(session, task.id))
    refusal: AppError = NotOnTeam()
    if principal.has("inspector"):
        inspector = await pool_repository.inspector_by_subject(session, principal.subject)
        if inspector is not None:
            if any(m.inspector_id == inspector.id for m in members):
                if inspector.active:
                    return Access(task, members, inspector)
                refusal = InspectorInactive()
            elif (row := await repository.member_row(session, task.id, inspector.id)) is not None:
                assert row.removed_at is not None
                refusal = RemovedFromTeam()
    if not write and (principal.has("supervisor") or principal.has("ops")):
        return Access(task, members, None)
    raise refusal


def _writable(a: Access) -> Inspector:
    if a.task.status in CLOSED:
        raise TaskClosed()
    assert a.inspector is not None
    return a.inspector


# --- the inspector lifecycle: deactivation, conflicts declared after assignment, reassignment ------


async def flag_open_tasks(session: AsyncSession, inspector_id: uuid.UUID) -> list[Task]:
    """A deactivated inspector's open tasks wait for the supervisor to reassign them (their access
    ends in ``access``, which refuses an inactive inspector everything)."""
    tasks = list(await repository.tasks_of_inspector(session, inspector_id, OPEN, lock=True))
    for task in tasks:
        task.needs_reassignment = True
    await session.flush()
    return tasks


async def remove_for_conflict(
    session: AsyncSession,
    outbox: Outbox,
    *,
    inspector_id: uuid.UUID,
    institution_id: uuid.UUID,
    conflict_id: uuid.UUID,
    by: Principal,
    now: datetime,
) -> list[Task]:
    """A conflict of interest (回避) declared after the assignment takes the inspector off every open
    task of that institution at once; the task waits for the supervisor to complete its team."""
    tasks = list(
        await repository.tasks_of_inspector(session, inspector_id, OPEN, institution_id=institution_id, lock=True)
    )
    for task in tasks:
        row = await repository.member_row(session, task.id, inspector_id)
        assert row is not None
        row.removed_at = now
        row.removed_reason = "conflict_of_interest"
        # the remaining signatures covered a record made with the conflicted inspector
        await repository.clear_signatures(session, task.id)
        task.needs_reassignment = True
        await outbox.add(
            session,
            TaskInspectorRemovedV1(
                task_id=task.id,
                institution_id=task.institution_id,
                inspector_id=inspector_id,
                reason="conflict_of_interest",
                conflict_id=conflict_id,
                needs_reassignment=True,
                removed_by=by.subject,
                removed_at=now,
            ),
            subject=str(task.institution_id),
        )
    await session.flush()
    return tasks


async def reassign(
    session: AsyncSession,
    outbox: Outbox,
    task_id: uuid.UUID,
    inspector_ids: Sequence[uuid.UUID],
    *,
    by: Principal,
    now: datetime,
) -> Task:
    """A supervisor sets an open task's team: members left out are taken off it, new ones added, every
    signature cleared (the new team signs the record), and the reassignment flag lifted."""
    task = await repository.get(session, task_id, lock=True)
    if task is None:
        raise TaskNotFound()
    if task.status in CLOSED:
        raise TaskClosed()
    case = await _case_of(session, task)
    institution = await pool_repository.get_institution(session, task.institution_id)
    district = institution.district_code if institution else (case.district_code if case else "")
    await _check_team(session, inspector_ids, district, task.institution_id)
    wanted = list(inspector_ids)
    for m in await repository.members(session, task.id):
        if m.inspector_id not in wanted:
            m.removed_at = now
            m.removed_reason = "reassigned"
            await outbox.add(
                session,
                TaskInspectorRemovedV1(
                    task_id=task.id,
                    institution_id=task.institution_id,
                    inspector_id=m.inspector_id,
                    reason="reassigned",
                    needs_reassignment=False,
                    removed_by=by.subject,
                    removed_at=now,
                ),
                subject=str(task.institution_id),
            )
    for position, inspector_id in enumerate(wanted):
        row = await repository.member_row(session, task.id, inspector_id)
        if row is None:
            session.add(TaskMember(task_id=task.id, inspector_id=inspector_id, position=position))
        else:
            row.removed_at = None
            row.removed_reason = None
            row.position = position
    await session.flush()
    await repository.clear_signatures(session, task.id)
    task.needs_reassignment = False
    await session.flush()
    await outbox.add(
        session,
        TaskAssignedV1(
            task_id=task.id,
            plan_id=task.plan_id,
            institution_id=task.institution_id,
            kind="random" if task.kind == "random" else "targeted",
            inspector_ids=wanted,
            due_by=task.due_by,
            assigned_at=now,
        ),
        subject=str(task.institution_id),
    )
    return task


async def needing_reassignment(session: AsyncSession) -> list[TaskView]:
    tasks = await repository.tasks_needing_reassignment(session)
    return [await _view(session, task, list(await repository.members(session, task.id))) for task in tasks]


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class TaskView:
    task: Task
    institution: TargetInstitution | None
    grade: str | None
    members: list[tuple[TaskMember, Inspector | None]]
    staff: list[TargetStaff] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    checkins: list[CheckIn] = field(default_factory=list)
    case: UnlicensedCase | None = None
    removed: list[tuple[TaskMember, Inspector | None]] = field(default_factory=list)


async def _members_with_names(
    session: AsyncSession, members: Sequence[TaskMember]
) -> list[tuple[TaskMember, Inspector | None]]:
    if not members:
        return []
    found = {i.id: i for i in await pool_repository.inspectors(session, ids=[m.inspector_id for m in members])}
    return [(m, found.get(m.inspector_id)) for m in members]


async def _view(session: AsyncSession, task: Task, members: Sequence[TaskMember]) -> TaskView:
    return TaskView(
        task=task,
        institution=await pool_repository.get_institution(session, task.institution_id),
        grade=await pool_repository.grade_of(session, task.institution_id),
        members=await _members_with_names(session, members),
        case=await _case_of(session, task),
        removed=await _members_with_names(session, await repository.members(session, task.id, removed=True)),
    )


async def my_tasks(session: AsyncSession, principal: Principal, statuses: Sequence[str]) -> list[TaskView]:
    inspector = await caller_inspector(session, principal)
    tasks = await repository.tasks_of_inspector(session, inspector.id, statuses)
    members = await repository.members_of(session, [t.id for t in tasks])
    return [await _view(session, task, members.get(task.id, [])) for task in tasks]


async def detail(session: AsyncSession, a: Access) -> TaskView:
    task = a.task
    view = await _view(session, task, a.members)
    view.staff = [s for s in await pool_repository.staff_of(session, task.institution_id) if s.left_on is None]
    view.findings = list(await repository.findings(session, task.id))
    view.violations = list(await repository.violations(session, task.id))
    view.checkins = list(await repository.checkins(session, task.id))
    return view


async def _case_of(session: AsyncSession, task: Task) -> UnlicensedCase | None:
    return None if task.case_id is None else await unlicensed_repository.get(session, task.case_id)


# --- the mobile workflow ----------------------------------------------------------------------------


async def check_in(
    session: AsyncSession,
    outbox: Outbox,
    a: Access,
    *,
    latitude: float,
    longitude: float,
    radius_m: float,
    now: datetime,
) -> CheckIn:
    inspector = _writable(a)
    site: tuple[float, float]
    if a.task.case_id is not None:
        case = await unlicensed_repository.get(session, a.task.case_id)
        if case is None or case.latitude is None or case.longitude is None:
            raise SiteLocationUnknown()
        site = (case.latitude, case.longitude)
    else:
        institution = await pool_repository.get_institution(session, a.task.institution_id)
        if institution is None:
            raise InstitutionNotInPool()
        site = (institution.latitude, institution.longitude)
    distance = round(distance_m(latitude, longitude, site[0], site[1]), 1)
    checkin = CheckIn(
        id=uuid.uuid4(),
        task_id=a.task.id,
        inspector_id=inspector.id,
        latitude=latitude,
        longitude=longitude,
        distance_m=distance,
        far_from_site=distance > radius_m,
        checked_in_at=now,
    )
    await repository.add(session, checkin)
    if a.task.status == "assigned":
        a.task.status = "in_progress"
    await outbox.add(
        session,
        TaskCheckedInV1(
            task_id=a.task.id,
            institution_id=a.task.institution_id,
            inspector_id=inspector.id,
            distance_m=distance,
            far_from_site=checkin.far_from_site,
            checked_in_at=now,
        ),
        subject=str(a.task.institution_id),
    )
    return checkin


@dataclass(frozen=True)
class FindingInput:
    item_code: str
    result: str
    note: str | None
    evidence_sha256: list[str]


async def record_findings(
    session: AsyncSession, a: Access, items: Sequence[FindingInput], *, now: datetime
) -> list[Finding]:
    """Upsert findings per checklist item (a later answer to the same item replaces the earlier)."""
    inspector = _writable(a)
    allowed = set(a.task.checklist)
    for n, item in enumerate(items):
        if item.item_code not in allowed:
            raise InvalidInput(
                f"检查事项“{item.item_code}”不在本任务的检查清单中",
                code="item_not_in_checklist",
                field=f"items.{n}.item_code",
            )
    for item in items:
        await repository.upsert_finding(
            session,
            {
                "task_id": a.task.id,
                "item_code": item.item_code,
                "result": item.result,
                "note": item.note,
                "evidence_sha256": list(item.evidence_sha256),
                "updated_by": inspector.id,
                "updated_at": now,
            },
        )
    await _content_changed(session, a)
    return list(await repository.findings(session, a.task.id))


async def _content_changed(session: AsyncSession, a: Access) -> None:
    # Signatures cover the record as it was signed: any change asks every member to sign again.
    if a.task.status == "assigned":
        a.task.status = "in_progress"
    if any(m.signed_at is not None for m in a.members):
        await repository.clear_signatures(session, a.task.id)
        for m in a.members:
            m.signed_at = None
    await session.flush()


async def record_violation(
    session: AsyncSession,
    outbox: Outbox,
    a: Access,
    *,
    code: str,
    description: str,
    person_ref: str | None,
    evidence_sha256: list[str],
    now: datetime,
) -> Violation:
    inspector = _writable(a)
    kind = violation_catalogue().get(code)
    if kind is None:
        raise InvalidInput(f"违规代码“{code[:40]}”不在违规目录中", code="unknown_violation_code", field="code")
    if person_ref is not None:
        roster = {s.person_ref for s in await pool_repository.staff_of(session, a.task.institution_id)}
        if person_ref not in roster:
            raise InvalidInput(
                "所涉人员不在该机构的从业人员名册中（person_ref 应取自任务详情中的 staff 列表）",
                code="person_not_on_roster",
                field="person_ref",
            )
    violation = Violation(
        id=uuid.uuid4(),
        task_id=a.task.id,
        institution_id=a.task.institution_id,
        code=kind.code,
        severity=kind.severity,
        description=description,
        person_ref=person_ref,
        evidence_sha256=list(evidence_sha256),
        status="recorded",
        recorded_by=inspector.id,
        recorded_at=now,
    )
    await repository.add(session, violation)
    await _content_changed(session, a)
    await outbox.add(
        session,
        ViolationRecordedV1(
            violation_id=violation.id,
            task_id=a.task.id,
            institution_id=a.task.institution_id,
            code=kind.code,
            severity=kind.severity,
            recorded_at=now,
        ),
        subject=str(a.task.institution_id),
    )
    return violation


@dataclass
class Signatures:
    task: Task
    signed: list[uuid.UUID]
    pending: list[uuid.UUID]


def _signatures(a: Access) -> Signatures:
    return Signatures(
        task=a.task,
        signed=[m.inspector_id for m in a.members if m.signed_at is not None],
        pending=[m.inspector_id for m in a.members if m.signed_at is None],
    )


async def submit(
    session: AsyncSession, outbox: Outbox, a: Access, *, calendar: WorkdayCalendar, now: datetime
) -> Signatures:
    """The caller signs; when every team member has signed, the task is submitted."""
    assert a.inspector is not None
    if a.task.status in CLOSED:
        return _signatures(a)  # already submitted by the whole team: signing again changes nothing
    if a.task.needs_reassignment:
        raise TaskNeedsReassignment()
    answered = {f.item_code: f for f in await repository.findings(session, a.task.id)}
    missing = [code for code in a.task.checklist if code not in answered]
    if missing:
        raise InvalidInput(
            f"还有{len(missing)}项检查事项未填写结论（如 {missing[0]}），全部填写后才能签名提交",
            code="checklist_incomplete",
            field="findings",
            errors=[
                {"field": f"findings.{code}", "code": "finding_missing", "message": "未填写检查结论"}
                for code in missing[:20]
            ],
        )
    me = next(m for m in a.members if m.inspector_id == a.inspector.id)
    if me.signed_at is None:
        me.signed_at = now
    if all(m.signed_at is not None for m in a.members):
        deadline = calendar.add_working_days(china_today(now), a.task.publication_working_days)
        a.task.status = "submitted"
        a.task.submitted_at = now
        a.task.publication_due = deadline.due
        a.task.publication_due_provisional = deadline.provisional
        results = Counter(f.result for f in answered.values())
        violations = await repository.violations(session, a.task.id)
        await outbox.add(
            session,
            TaskSubmittedV1(
                task_id=a.task.id,
                institution_id=a.task.institution_id,
                kind="random" if a.task.kind == "random" else "targeted",
                items_passed=results["pass"],
                items_failed=results["fail"],
                items_not_applicable=results["not_applicable"],
                violation_count=len(violations),
                submitted_at=now,
                publication_due=deadline.due,
            ),
            subject=str(a.task.institution_id),
        )
    await session.flush()
    return _signatures(a)


# --- review and publication (一公开) -----------------------------------------------------------------


@dataclass(frozen=True)
class ReviewInput:
    dismissed_violation_ids: list[uuid.UUID]
    summary_zh: str | None
    follow_up_rectified: bool | None


@dataclass
class ReviewOutcome:
    task: Task
    result: PublishedResult
    confirmed: list[Violation]
    closed: list[Violation]


def conclusion_of(confirmed: Sequence[Violation]) -> str:
    if not confirmed:
        return "compliant"
    if any(v.severity in ("serious", "critical") for v in confirmed):
        return "non_compliant"
    return "rectification_required"


def _zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def result_summary(conclusion: str, by_severity: dict[str, int], confirmed: Sequence[Violation]) -> str:
    """The published result's text: what was found and what was decided — the conclusion, the
    rectification ordered and by when, and for child abuse the consequences the law attaches (the
    credit policy lists the institution and bans the person; 人口与计划生育法 第四十一条第二款),
    not a generic "已依法责令整改"."""
    if conclusion == "compliant":
        return "本次检查未发现违法违规问题。"
    parts = "、".join(f"{SEVERITY_ZH[s]}{n}项" for s, n in by_severity.items() if n)
    text = f"本次检查发现问题{sum(by_severity.values())}项（{parts}），检查结论：{CONCLUSION_ZH[conclusion]}"
    if conclusion == "non_compliant":
        text += "，责令整改"
    dues = [v.rectification_due for v in confirmed if v.rectification_due is not None]
    if dues:
        text += f"，整改期限至{_zh_date(min(dues))}"
    abuse = sum(v.code == CHILD_ABUSE_CODE for v in confirmed)
    if abuse:
        text += (
            f"；其中虐待、伤害婴幼儿{abuse}项，机构列入严重失信主体名单、不予信用修复，"
            "直接责任人员终身不得从事婴幼儿照护服务（《人口与计划生育法》第四十一条第二款）"
        )
    return text + "。"


async def review(
    session: AsyncSession,
    outbox: Outbox,
    task_id: uuid.UUID,
    data: ReviewInput,
    *,
    by: Principal,
    now: datetime,
    reviewer_not_on_team: bool = True,
) -> ReviewOutcome:
    """A supervisor confirms (or dismisses) the recorded violations and publishes the result. With
    ``reviewer_not_on_team`` (shared/duties.py), never one who is or was on the task's team."""
    task = await repository.get(session, task_id, lock=True)
    if task is None:
        raise TaskNotFound()
    if reviewer_not_on_team:
        team = [*await repository.members(session, task.id), *await repository.members(session, task.id, removed=True)]
        ids = [m.inspector_id for m in team]
        if ids and any(i.subject == by.subject for i in await pool_repository.inspectors(session, ids=ids)):
            raise ReviewerOnTeam()
    if task.status == "reviewed":
        raise TaskAlreadyReviewed()
    if task.status != "submitted":
        raise TaskNotSubmitted()
    assert task.submitted_at is not None
    assert task.publication_due is not None
    violations = list(await repository.violations(session, task.id))
    known = {v.id for v in violations}
    for n, vid in enumerate(data.dismissed_violation_ids):
        if vid not in known:
            raise ViolationNotFound("该违规记录不属于本任务", field=f"dismissed_violation_ids.{n}")
    if task.follow_up_of is not None and data.follow_up_rectified is None:
        raise InvalidInput(
            "复查任务须说明被复查的违规是否已整改到位", code="follow_up_outcome_required", field="follow_up_rectified"
        )
    institution = await pool_repository.get_institution(session, task.institution_id)
    case = await _case_of(session, task)
    today = china_today(now)
    catalogue = violation_catalogue()
    confirmed: list[Violation] = []
    for v in violations:
        if v.id in data.dismissed_violation_ids:
            v.status = "dismissed"
            continue
        kind = catalogue[v.code]
        v.status = "confirmed"
        v.confirmed_at = now
        v.rectification_due = today + timedelta(days=kind.default_rectification_days)
        confirmed.append(v)
        await outbox.add(
            session,
            ViolationConfirmedV1(
                violation_id=v.id,
                task_id=task.id,
                institution_id=task.institution_id,
                code=v.code,
                title_zh=kind.title_zh,
                severity=v.severity,
                legal_basis=kind.legal_basis,
                child_abuse=v.code == CHILD_ABUSE_CODE,
                person_ref=v.person_ref,
                description=v.description,
                rectification_due=v.rectification_due,
                confirmed_by=by.subject,
                confirmed_at=now,
            ),
            subject=str(task.institution_id),
        )
    closed: list[Violation] = []
    if task.follow_up_of is not None and data.follow_up_rectified:
        original = await repository.violation(session, task.follow_up_of, lock=True)
        if original is not None and original.status in ("confirmed", "rectification_reported", "escalated"):
            original.status = "closed"
            original.closed_at = now
            original.closed_by_task_id = task.id
            closed.append(original)
            await outbox.add(
                session,
                ViolationClosedV1(
                    violation_id=original.id,
                    institution_id=original.institution_id,
                    closed_at=now,
                    verified_by_task_id=task.id,
                ),
                subject=str(original.institution_id),
            )
    await unlicensed_service.on_violation_confirmed(
        session, outbox, task=task, violations=confirmed, institution=institution, by=by.subject, now=now
    )
    by_severity = {s: 0 for s in SEVERITIES}
    for v in confirmed:
        by_severity[v.severity] += 1
    conclusion = conclusion_of(confirmed)
    on_time = today <= task.publication_due
    result = PublishedResult(
        task_id=task.id,
        institution_id=task.institution_id,
        institution_name=institution.name if institution else _site_name(case),
        district_code=institution.district_code if institution else (case.district_code if case else ""),
        kind=task.kind,
        conclusion=conclusion,
        violations_by_severity=by_severity,
        summary_zh=data.summary_zh or result_summary(conclusion, by_severity, confirmed),
        inspected_on=china_today(task.submitted_at),
        publication_due=task.publication_due,
        published_at=now,
        on_time=on_time,
    )
    await repository.add(session, result)
    task.status = "reviewed"
    task.reviewed_by = by.subject
    task.reviewed_at = now
    await session.flush()
    await outbox.add(
        session,
        InspectionResultPublishedV1(
            institution_id=task.institution_id,
            task_id=task.id,
            plan_id=task.plan_id,
            kind="random" if task.kind == "random" else "targeted",
            conclusion=conclusion,
            violation_count=len(confirmed),
            violations_by_severity=by_severity,
            summary_zh=result.summary_zh,
            inspected_at=task.submitted_at,
            published_at=now,
            on_time=on_time,
        ),
        subject=str(task.institution_id),
    )
    return ReviewOutcome(task=task, result=result, confirmed=confirmed, closed=closed)


def _site_name(case: UnlicensedCase | None) -> str:
    # an unlicensed site is published under the name it trades as, never a person's address
    if case is None:
        return ""
    return case.operator_name or "无证照托育场所"


@dataclass(frozen=True)
class PublicFollowUp:
    task_id: uuid.UUID
    inspected_on: date
    rectified: bool


@dataclass(frozen=True)
class PublicResult:
    """A published result with what the public record shows of it: its confirmed violations (each
    with its published follow-ups) and, for a follow-up, the violation it verified."""

    result: PublishedResult
    violations: list[Violation]
    follow_ups: dict[uuid.UUID, list[PublicFollowUp]]  # violation id -> its follow-ups
    follow_up_of: Violation | None


async def public_results(
    session: AsyncSession, *, district: str | None, page: int, page_size: int, institution_id: uuid.UUID | None = None
) -> tuple[list[PublicResult], int]:
    rows, total = await repository.published(
        session, district=district, institution_id=institution_id, offset=(page - 1) * page_size, limit=page_size
    )
    return await public_details(session, rows), total


async def public_details(session: AsyncSession, rows: Sequence[PublishedResult]) -> list[PublicResult]:
    """The published results with their violations and follow-ups, as the public record shows them."""
    task_ids = [r.task_id for r in rows]
    violations = await repository.public_violations(session, task_ids)
    targets = await repository.follow_up_targets(session, task_ids)
    verified = {v.id: v for v in await repository.violations_by_id(session, list(set(targets.values())))}
    closed_by = {v.id: v.closed_by_task_id for v in [*violations, *verified.values()]}
    follow_ups: dict[uuid.UUID, list[PublicFollowUp]] = {}
    for violation_id, task_id, inspected_on in await repository.published_follow_ups(session, list(closed_by)):
        rectified = closed_by.get(violation_id) == task_id
        follow_ups.setdefault(violation_id, []).append(PublicFollowUp(task_id, inspected_on, rectified))
    by_task: dict[uuid.UUID, list[Violation]] = {}
    for v in violations:
        by_task.setdefault(v.task_id, []).append(v)
    return [
        PublicResult(
            result=r,
            violations=by_task.get(r.task_id, []),
            follow_ups=follow_ups,
            follow_up_of=verified.get(targets[r.task_id]) if r.task_id in targets else None,
        )
        for r in rows
    ]


# --- rectification (整改) ------------------------------------------------------------------------------


async def report_rectification(
    session: AsyncSession, outbox: Outbox, violation_id: uuid.UUID, evidence_sha256: list[str], *, now: datetime
) -> Violation:
    """The institution's report that it corrected the violation (recorded by a supervisor); a
    follow-up task then verifies it."""
    v = await repository.violation(session, violation_id, lock=True)
    if v is None:
        raise ViolationNotFound()
    if v.status != "confirmed":
        raise IllegalViolationTransition("只有已确认、待整改的违规才能报告整改")
    v.status = "rectification_reported"
    v.rectification_reported_at = now
    await session.flush()
    await outbox.add(
        session,
        RectificationReportedV1(
            violation_id=v.id, institution_id=v.institution_id, reported_at=now, evidence_sha256=list(evidence_sha256)
        ),
        subject=str(v.institution_id),
    )
    return v


async def escalate_overdue(session: AsyncSession, outbox: Outbox, *, now: datetime) -> int:
    """逾期未整改: confirmed violations whose rectification deadline passed without a verified correction."""
    overdue = await repository.overdue_violations(session, china_today(now))
    for v in overdue:
        assert v.rectification_due is not None
        v.status = "escalated"
        v.escalated_at = now
        await outbox.add(
            session,
            ViolationEscalatedV1(
                violation_id=v.id,
                institution_id=v.institution_id,
                severity=v.severity,
                rectification_due=v.rectification_due,
                escalated_at=now,
            ),
            subject=str(v.institution_id),
        )
    await session.flush()
    return len(overdue)


async def publication_overdue(session: AsyncSession, *, now: datetime) -> int:
    return await repository.unpublished_overdue(session, china_today(now))
