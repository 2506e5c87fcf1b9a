"""Tasks: the inspectors' mobile API (idempotent writes), targeted inspections, review and the
public results (一公开)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection import idempotency
from services.inspection.common import (
    IdempotencyKey,
    calendar_of,
    district_code,
    district_name,
    jsonable,
    now_of,
    settings_of,
)
from services.inspection.errors import (
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    IllegalViolationTransition,
    InspectorInactive,
    InspectorNotFound,
    InstitutionNotInPool,
    NotAnInspector,
    NotOnTeam,
    RemovedFromTeam,
    TaskAlreadyReviewed,
    TaskClosed,
    TaskNeedsReassignment,
    TaskNotFound,
    TaskNotSubmitted,
    ViolationNotFound,
)
from services.inspection.pool.models import Inspector
from services.inspection.reference import checklist, violation_catalogue
from services.inspection.tasks import service
from services.inspection.tasks.models import CheckIn, Finding, TaskMember, Violation
from services.inspection.tasks.schemas import (
    CheckInIn,
    CheckInOut,
    ChecklistItemOut,
    FindingOut,
    FindingsIn,
    FindingsOut,
    FollowUpOfOut,
    InstitutionFactsOut,
    MemberOut,
    PublicFollowUpOut,
    PublicViolationOut,
    PublishedPage,
    PublishedResultOut,
    RectificationIn,
    ReviewIn,
    ReviewOut,
    SiteOut,
    StaffOut,
    SubmitIn,
    SubmitOut,
    TargetedIn,
    TaskDetailOut,
    TaskList,
    TaskSummaryOut,
    TeamIn,
    ViolationIn,
    ViolationOut,
)
from services.inspection.unlicensed.errors import CaseClosed, CaseNotFound, SiteLocationUnknown
from shared import duties
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.events.inspection import CONCLUSION_ZH
from shared.workdays import china_today

router = APIRouter(prefix="/v1", tags=["tasks"])

InspectorUser = Annotated[Principal, Depends(require_roles("inspector"))]
Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
TaskReader = Annotated[Principal, Depends(require_roles("inspector", "supervisor", "ops"))]
AUTH = error_responses(Unauthenticated, Forbidden, NotOnTeam, InspectorInactive, RemovedFromTeam)
WRITE = {
    **AUTH,
    **error_responses(
        InvalidInput, IdempotencyKeyMissing, IdempotencyKeyReused, TaskNotFound, TaskClosed, SiteLocationUnknown
    ),
}


# --- output mapping ---------------------------------------------------------------------------------


def _institution_out(view: service.TaskView) -> InstitutionFactsOut | None:
    i = view.institution
    if i is None:
        return None
    return InstitutionFactsOut(
        institution_id=i.institution_id,
        name=i.name,
        uscc=i.uscc,
        operating_model=i.operating_model,
        district_code=i.district_code,
        district_name=district_name(i.district_code),
        street_code=i.street_code,
        address=i.address,
        latitude=i.latitude,
        longitude=i.longitude,
        total_slots=i.profile.get("total_slots"),
        classes=list(i.profile.get("classes", [])),
        credit_grade=view.grade,
    )


def _site_out(view: service.TaskView) -> SiteOut | None:
    c = view.case
    if c is None:
        return None
    return SiteOut(
        case_id=c.id,
        operator_name=c.operator_name,
        district_code=c.district_code,
        district_name=district_name(c.district_code),
        street_code=c.street_code,
        address=c.address,
        latitude=c.latitude,
        longitude=c.longitude,
    )


def _summary_fields(view: service.TaskView) -> dict[str, Any]:
    t = view.task
    return {
        "id": t.id,
        "kind": t.kind,
        "plan_id": t.plan_id,
        "status": t.status,
        "reason": t.reason,
        "due_by": t.due_by,
        "institution": _institution_out(view),
        "case_id": t.case_id,
        "site": _site_out(view),
        "members": [_member_out(m, i) for m, i in view.members],
        "publication_due": t.publication_due,
        "needs_reassignment": t.needs_reassignment,
        "removed_members": [_member_out(m, i) for m, i in view.removed],
    }


def _member_out(m: TaskMember, i: Inspector | None) -> MemberOut:
    return MemberOut(
        inspector_id=m.inspector_id,
        name=i.name if i else None,
        agency=i.agency if i else None,
        badge_number=i.badge_number if i else None,
        signed_at=m.signed_at,
        active=i.active if i else None,
        removed_at=m.removed_at,
        removed_reason="conflict_of_interest"
        if m.removed_reason == "conflict_of_interest"
        else ("reassigned" if m.removed_reason == "reassigned" else None),
    )


def finding_out(f: Finding) -> FindingOut:
    return FindingOut(
        item_code=f.item_code,
        result=f.result,
        note=f.note,
        evidence_sha256=list(f.evidence_sha256),
        updated_by=f.updated_by,
        updated_at=f.updated_at,
    )


def violation_out(v: Violation) -> ViolationOut:
    kind = violation_catalogue()[v.code]
    return ViolationOut(
        id=v.id,
        task_id=v.task_id,
        institution_id=v.institution_id,
        code=v.code,
        title_zh=kind.title_zh,
        severity=v.severity,
        legal_basis=kind.legal_basis,
        description=v.description,
        person_ref=v.person_ref,
        evidence_sha256=list(v.evidence_sha256),
        status=v.status,
        recorded_at=v.recorded_at,
        rectification_due=v.rectification_due,
    )


def checkin_out(c: CheckIn) -> CheckInOut:
    return CheckInOut(
        id=c.id,
        task_id=c.task_id,
        inspector_id=c.inspector_id,
        distance_m=c.distance_m,
        far_from_site=c.far_from_site,
        checked_in_at=c.checked_in_at,
    )


INSPECTION_TYPE_ZH = {"random": "双随机抽查", "targeted": "定向检查", "follow_up": "整改复查"}
VIOLATION_STATUS_ZH = {
    "confirmed": "整改中",
    "rectification_reported": "已报告整改，待复查",
    "closed": "已整改（复查确认）",
    "escalated": "逾期未整改，已移交处理",
}


def _public_violation(v: Violation, follow_ups: list[service.PublicFollowUp]) -> PublicViolationOut:
    kind = violation_catalogue()[v.code]
    return PublicViolationOut(
        code=v.code,
        title_zh=kind.title_zh,
        severity=v.severity,
        severity_zh=service.SEVERITY_ZH[v.severity],
        legal_basis=kind.legal_basis,
        rectification_due=v.rectification_due,
        status=v.status,
        status_zh=VIOLATION_STATUS_ZH[v.status],
        closed_on=china_today(v.closed_at) if v.closed_at is not None else None,
        follow_ups=[
            PublicFollowUpOut(task_id=f.task_id, inspected_on=f.inspected_on, rectified=f.rectified) for f in follow_ups
        ],
    )


def result_out(p: service.PublicResult) -> PublishedResultOut:
    r = p.result
    verified = p.follow_up_of
    inspection_type = "follow_up" if verified is not None else r.kind
    return PublishedResultOut(
        task_id=r.task_id,
        institution_id=r.institution_id,
        institution_name=r.institution_name,
        district_code=r.district_code,
        district_name=district_name(r.district_code),
        kind=r.kind,
        inspection_type=inspection_type,
        inspection_type_zh=INSPECTION_TYPE_ZH[inspection_type],
        inspected_on=r.inspected_on,
        published_at=r.published_at,
        published_on=china_today(r.published_at),
        conclusion=r.conclusion,
        conclusion_zh=CONCLUSION_ZH[r.conclusion],
        violations_by_severity=dict(r.violations_by_severity),
        summary_zh=r.summary_zh,
        on_time=r.on_time,
        violations=[_public_violation(v, p.follow_ups.get(v.id, [])) for v in p.violations],
        follow_up_of=None
        if verified is None
        else FollowUpOfOut(
            task_id=verified.task_id,
            title_zh=violation_catalogue()[verified.code].title_zh,
            rectified=verified.closed_by_task_id == r.task_id,
        ),
    )


# --- idempotent writes --------------------------------------------------------------------------------


async def _idempotent(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str,
    body: Any,
    task_id: uuid.UUID,
    run: Callable[[service.Access], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    # Access first, also for a retry: an inspector deactivated or taken off the team since the first
    # attempt gets 403, not the stored answer.
    a = await service.access(session, task_id, principal, write=True)
    print_ = idempotency.fingerprint(request.method, request.url.path, body)
    replay = await idempotency.begin(session, principal.subject, key, print_)
    if replay is not None:
        return JSONResponse(replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"})
    status_code, out = await run(a)
    await idempotency.finish(session, principal.subject, key, status_code, out)
    return JSONResponse(out, status_code=status_code)


# --- the mobile API --------------------------------------------------------------------------------------


@router.get(
    "/me/tasks",
    response_model=TaskList,
    summary="My tasks (the caller's, as a registered inspector), earliest due first",
    responses=error_responses(Unauthenticated, Forbidden, NotAnInspector, InspectorInactive),
)
async def my_tasks(
    session: DbSession,
    inspector: InspectorUser,
    status_filter: Annotated[
        list[Literal["assigned", "in_progress", "submitted", "reviewed"]] | None, Query(alias="status")
    ] = None,
) -> TaskList:
    views = await service.my_tasks(session, inspector, status_filter or [])
    items = [TaskSummaryOut(**_summary_fields(v)) for v in views]
    return TaskList(items=items, total=len(items))


@router.get(
    "/tasks/{task_id}",
    response_model=TaskDetailOut,
    summary="A task with the institution's facts, staff list, checklist and what was recorded so far",
    responses={**AUTH, **error_responses(TaskNotFound)},
)
async def get_task(task_id: uuid.UUID, session: DbSession, reader: TaskReader) -> TaskDetailOut:
    view = await service.detail(session, await service.access(session, task_id, reader, write=False))
    items = checklist()
    return TaskDetailOut(
        **_summary_fields(view),
        checklist=[
            ChecklistItemOut(item_code=c, area=items[c].area, item_zh=items[c].item_zh, basis=items[c].basis)
            for c in view.task.checklist
            if c in items
        ],
        staff=[StaffOut(person_ref=s.person_ref, name=s.name, role=s.role, id_masked=s.id_masked) for s in view.staff],
        findings=[finding_out(f) for f in view.findings],
        violations=[violation_out(v) for v in view.violations],
        checkins=[checkin_out(c) for c in view.checkins],
    )


@router.post(
    "/tasks/{task_id}/check-in",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInOut,
    summary="Check in on site with GPS (far_from_site when more than the configured radius away)",
    responses=WRITE,
)
async def check_in(
    task_id: uuid.UUID,
    body: CheckInIn,
    session: DbSession,
    inspector: InspectorUser,
    key: IdempotencyKey,
    request: Request,
) -> JSONResponse:
    async def run(a: service.Access) -> tuple[int, Any]:
        checkin = await service.check_in(
            session,
            request.app.state.outbox,
            a,
            latitude=body.lat,
            longitude=body.lng,
            radius_m=settings_of(request).checkin_radius_m,
            now=now_of(request),
        )
        return 201, jsonable(checkin_out(checkin))

    return await _idempotent(session, request, inspector, key, jsonable(body), task_id, run)


@router.put(
    "/tasks/{task_id}/findings",
    response_model=FindingsOut,
    summary="Record findings per checklist item (pass / fail / not_applicable, note, evidence SHA-256)",
    responses=WRITE,
)
async def put_findings(
    task_id: uuid.UUID,
    body: FindingsIn,
    session: DbSession,
    inspector: InspectorUser,
    key: IdempotencyKey,
    request: Request,
) -> JSONResponse:
    async def run(a: service.Access) -> tuple[int, Any]:
        findings = await service.record_findings(
            session,
            a,
            [
                service.FindingInput(
                    item_code=i.item_code, result=i.result, note=i.note, evidence_sha256=list(i.evidence_sha256)
                )
                for i in body.items
            ],
            now=now_of(request),
        )
        out = FindingsOut(
            task_id=a.task.id,
            items=[finding_out(f) for f in findings],
            answered=sum(1 for f in findings if f.item_code in set(a.task.checklist)),
            total=len(a.task.checklist),
        )
        return 200, jsonable(out)

    return await _idempotent(session, request, inspector, key, jsonable(body), task_id, run)


@router.post(
    "/tasks/{task_id}/violations",
    status_code=status.HTTP_201_CREATED,
    response_model=ViolationOut,
    summary="Record a violation (catalogue code, description, staff person_ref if involved)",
    responses=WRITE,
)
async def post_violation(
    task_id: uuid.UUID,
    body: ViolationIn,
    session: DbSession,
    inspector: InspectorUser,
    key: IdempotencyKey,
    request: Request,
) -> JSONResponse:
    async def run(a: service.Access) -> tuple[int, Any]:
        violation = await service.record_violation(
            session,
            request.app.state.outbox,
            a,
            code=body.code,
            description=body.description,
            person_ref=body.person_ref,
            evidence_sha256=list(body.evidence_sha256),
            now=now_of(request),
        )
        return 201, jsonable(violation_out(violation))

    return await _idempotent(session, request, inspector, key, jsonable(body), task_id, run)


@router.post(
    "/tasks/{task_id}/submit",
    response_model=SubmitOut,
    summary="Sign and submit: each team member submits; the task is submitted when all have signed",
    responses={**WRITE, **error_responses(TaskNeedsReassignment)},
)
async def submit(
    task_id: uuid.UUID,
    session: DbSession,
    inspector: InspectorUser,
    key: IdempotencyKey,
    request: Request,
    body: SubmitIn | None = None,
) -> JSONResponse:
    async def run(a: service.Access) -> tuple[int, Any]:
        settings = settings_of(request)
        signatures = await service.submit(
            session, request.app.state.outbox, a, calendar=calendar_of(settings), now=now_of(request)
        )
        out = SubmitOut(
            task_id=a.task.id,
            status=a.task.status,
            signed_by=signatures.signed,
            pending_signatures=signatures.pending,
            submitted_at=a.task.submitted_at,
            publication_due=a.task.publication_due,
        )
        return 200, jsonable(out)

    return await _idempotent(session, request, inspector, key, {}, task_id, run)


# --- supervisors ------------------------------------------------------------------------------------------


@router.post(
    "/targeted-inspections",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskSummaryOut,
    summary="Create a targeted inspection (定向检查: complaint, follow-up, referral) outside the random draw",
    responses={
        **AUTH,
        **error_responses(
            InvalidInput, InstitutionNotInPool, InspectorNotFound, ViolationNotFound, CaseNotFound, CaseClosed
        ),
    },
)
async def create_targeted(
    body: TargetedIn, session: DbSession, supervisor: Supervisor, request: Request
) -> TaskSummaryOut:
    settings = settings_of(request)
    task = await service.create_targeted(
        session,
        request.app.state.outbox,
        service.TargetedInput(
            institution_id=body.institution_id,
            case_id=body.case_id,
            inspector_ids=list(body.inspector_ids),
            reason=body.reason,
            reason_detail=body.reason_detail,
            due_by=body.due_by,
            checklist_items=body.checklist_items,
            follow_up_of=body.follow_up_of,
            publication_working_days=settings.publication_working_days,
        ),
        now=now_of(request),
    )
    view = await service.detail(session, await service.access(session, task.id, supervisor, write=False))
    return TaskSummaryOut(**_summary_fields(view))


@router.get(
    "/tasks",
    response_model=TaskList,
    summary="Open tasks flagged for reassignment (a member deactivated or removed for a conflict of interest)",
    responses=AUTH,
)
async def tasks_needing_reassignment(
    session: DbSession,
    _: Annotated[Principal, Depends(require_roles("supervisor", "ops"))],
    needs_reassignment: Annotated[bool, Query(description="only true is supported")] = True,
) -> TaskList:
    if not needs_reassignment:
        raise InvalidInput("目前仅支持查询待重新指派的任务（needs_reassignment=true）", field="needs_reassignment")
    views = await service.needing_reassignment(session)
    items = [TaskSummaryOut(**_summary_fields(v)) for v in views]
    return TaskList(items=items, total=len(items))


@router.put(
    "/tasks/{task_id}/team",
    response_model=TaskSummaryOut,
    summary="Set an open task's team (reassignment): members left out lose access, signatures are cleared",
    responses={**AUTH, **error_responses(InvalidInput, TaskNotFound, TaskClosed, InspectorNotFound)},
)
async def set_team(
    task_id: uuid.UUID, body: TeamIn, session: DbSession, supervisor: Supervisor, request: Request
) -> TaskSummaryOut:
    task = await service.reassign(
        session, request.app.state.outbox, task_id, list(body.inspector_ids), by=supervisor, now=now_of(request)
    )
    view = await service.detail(session, await service.access(session, task.id, supervisor, write=False))
    return TaskSummaryOut(**_summary_fields(view))


@router.post(
    "/tasks/{task_id}/review",
    response_model=ReviewOut,
    summary="Review a submitted task: confirm (or dismiss) its violations and publish the result (一公开)",
    responses={
        **AUTH,
        **error_responses(InvalidInput, TaskNotFound, TaskNotSubmitted, TaskAlreadyReviewed, ViolationNotFound),
    },
    description="Separation of duties (`INSPECTION_SOD_REVIEWER_NOT_ON_TEAM`, on by default): a supervisor who is "
    "or was an inspector on the task's team gets 403 `reviewer_on_team`.",
)
async def review(
    task_id: uuid.UUID, body: ReviewIn, session: DbSession, supervisor: Supervisor, request: Request
) -> ReviewOut:
    outcome = await service.review(
        session,
        request.app.state.outbox,
        task_id,
        service.ReviewInput(
            dismissed_violation_ids=list(body.dismissed_violation_ids),
            summary_zh=body.summary_zh,
            follow_up_rectified=body.follow_up_rectified,
        ),
        by=supervisor,
        now=now_of(request),
        reviewer_not_on_team=duties.enabled(settings_of(request), "inspection.reviewer_not_on_team"),
    )
    if not outcome.result.on_time:
        late_counter(request).inc()
    (published,) = await service.public_details(session, [outcome.result])
    return ReviewOut(
        task_id=outcome.task.id,
        status=outcome.task.status,
        confirmed_violation_ids=[v.id for v in outcome.confirmed],
        closed_violation_ids=[v.id for v in outcome.closed],
        result=result_out(published),
    )


def late_counter(request: Request) -> Any:
    return request.app.state.metrics.counter(
        "childcare_inspection_results_published_late",
        "Inspection results published after their publication deadline (working days after submission).",
    )


@router.post(
    "/violations/{violation_id}/rectification",
    response_model=ViolationOut,
    summary="Record the institution's rectification report (整改报告); a follow-up task verifies it",
    responses={**AUTH, **error_responses(InvalidInput, ViolationNotFound, IllegalViolationTransition)},
)
async def report_rectification(
    violation_id: uuid.UUID, body: RectificationIn, session: DbSession, _: Supervisor, request: Request
) -> ViolationOut:
    violation = await service.report_rectification(
        session, request.app.state.outbox, violation_id, list(body.evidence_sha256), now=now_of(request)
    )
    return violation_out(violation)


# --- public (一公开) ----------------------------------------------------------------------------------------

DistrictQuery = Annotated[str | None, AfterValidator(lambda v: None if v is None else district_code(v))]


@router.get(
    "/public/inspection-results",
    response_model=PublishedPage,
    tags=["public"],
    summary="一公开: published inspection results (public, no login, no personal data)",
    responses=error_responses(InvalidInput),
)
async def public_results(
    session: DbSession,
    district: Annotated[DistrictQuery, Query(description="code or name")] = None,
    institution: Annotated[uuid.UUID | None, Query(description="one institution's results (its record)")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PublishedPage:
    rows, total = await service.public_results(
        session, district=district, institution_id=institution, page=page, page_size=page_size
    )
    return PublishedPage(items=[result_out(r) for r in rows], page=page, page_size=page_size, total=total)
