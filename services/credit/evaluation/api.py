"""Credit records read back with every point explained, the public grade, the lists, and putting a
policy version in force (it re-grades every subject)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.credit.access import CreditOfficer, CreditReader, ListReader, PersonRef, credit_env
from services.credit.errors import (
    PolicyAlreadyActive,
    PolicyNotFound,
    SubjectNotFound,
)
from services.credit.evaluation import service as evaluation_service
from services.credit.evaluation.service import RecordView
from services.credit.policy import service as policy_service
from services.credit.records import service as records_service
from services.credit.schemas import (
    ActivationOut,
    CreditRecordOut,
    ExplainedLine,
    GradeHistoryOut,
    ListMemberOut,
    ListMembershipOut,
    ListOut,
    MeasureOut,
    PublicCreditOut,
    repair_out,
)
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses
from shared.grants import NoDataSharingGrant, Sources, agency_view, grants_of

router = APIRouter(prefix="/v1/credit", tags=["credit"])
public_router = APIRouter(prefix="/v1/public/credit", tags=["public"])


def _record_out(view: RecordView) -> CreditRecordOut:
    subject, policy, ev = view.subject, view.policy, view.evaluation
    lines = [
        ExplainedLine(
            status=line.status,
            points=line.points,
            nominal_points=line.nominal_points,
            explanation=line.explanation_zh,
            entry_id=line.entry_id,
            rule_id=line.rule_id,
            rule_title=line.title_zh,
            legal_basis=line.legal_basis,
            source_event_id=line.source_event_id,
            source_event_type=line.source_event_type,
            effective_from=line.effective_from,
            counts_until=line.counts_until,
            repaired_at=line.repaired_at,
        )
        for line in ev.lines
    ]
    return CreditRecordOut(
        subject_kind="institution" if subject.subject_kind == "institution" else "person",
        subject_id=subject.subject_id,
        display_name=subject.display_name,
        district_code=subject.district_code,
        opened_at=subject.opened_at,
        opened_by_event_id=subject.opened_by_event_id,
        deregistered_at=subject.deregistered_at,
        as_of=ev.as_of,
        policy_version=ev.policy_version,
        score=ev.score,
        grade=ev.grade if view.graded else None,
        grade_title=policy.grade_title(ev.grade) if view.graded else "未评级（尚无信用信息）",
        forced_lowest_grade=ev.forced_lowest_grade,
        published_grade=view.standing.grade if view.standing else None,
        published_at=view.standing.graded_at if view.standing else None,
        lines=lines,
        measures=[
            MeasureOut(id=m.id, title=m.title_zh, legal_basis=m.legal_basis) for m in policy.measures.get(ev.grade, ())
        ],
        lists=[
            ListMembershipOut(
                list_name="industry_ban" if m.list_name == "industry_ban" else "serious_dishonesty",
                list_title=policy.lists[m.list_name].title_zh if m.list_name in policy.lists else m.list_name,
                reason=m.reason,
                legal_basis=m.legal_basis,
                entered_at=m.entered_at,
                until=m.until,
            )
            for m in view.memberships
        ],
        grade_history=[
            GradeHistoryOut(
                policy_version=h.policy_version,
                grade=h.grade,
                previous_grade=h.previous_grade,
                score=h.score,
                graded_at=h.graded_at,
                reason=h.reason,
            )
            for h in view.history
        ],
        repairs=[repair_out(r) for r in view.repairs],
        banned=any(m.list_name == "industry_ban" for m in view.memberships),
    )


@router.get(
    "/institutions/{institution_id}",
    response_model=CreditRecordOut,
    summary="An institution's credit record (诚信档案), every point explained",
    description="Score and grade are computed as of now under the policy in force; `lines` explain every point "
    "(rule, points, source event, legal basis, counts until) and sum to `score`.",
    responses=error_responses(SubjectNotFound, Unauthenticated, Forbidden),
)
async def institution_record(
    institution_id: uuid.UUID, session: DbSession, _: CreditReader, request: Request
) -> CreditRecordOut:
    view = await evaluation_service.get_record(session, credit_env(request), "institution", str(institution_id))
    return _record_out(view)


@router.get(
    "/persons/{person_ref}",
    response_model=CreditRecordOut,
    summary="A staff member's credit record by person_ref (从业人员诚信档案)",
    responses=error_responses(SubjectNotFound, InvalidInput, Unauthenticated, Forbidden),
)
async def person_record(
    person_ref: PersonRef, session: DbSession, _: CreditReader, request: Request
) -> CreditRecordOut:
    return _record_out(await evaluation_service.get_record(session, credit_env(request), "person", person_ref))


@public_router.get(
    "/institutions/{institution_id}",
    response_model=PublicCreditOut,
    summary="An institution's published credit grade and list membership (no login)",
    responses=error_responses(SubjectNotFound),
)
async def public_institution(institution_id: uuid.UUID, session: DbSession, request: Request) -> PublicCreditOut:
    view = await evaluation_service.get_public(session, str(institution_id))
    # what the published grade means, in the words of the policy version that gave it
    policy = credit_env(request).registry.get(view.policy_version) if view.policy_version else None
    measures = [m for g, ms in policy.measures.items() if g == view.grade for m in ms] if policy is not None else []
    return PublicCreditOut(
        institution_id=view.institution_id,
        grade=view.grade,
        graded_at=view.graded_at,
        policy_version=view.policy_version,
        grade_title=policy.grade_title(view.grade) if policy is not None and view.grade is not None else None,
        measures=[MeasureOut(id=m.id, title=m.title_zh, legal_basis=m.legal_basis) for m in measures],
        lists=[name for name in view.lists if name in ("serious_dishonesty", "industry_ban")],
    )


_E = "cn.gov.gz.childcare.credit."


_ENTERED, _BANNED, _FILED = (
    f"{_E}list.entered.v1",
    f"{_E}person.banned.v1",
    "cn.gov.gz.childcare.filing.institution.filed.v1",
)


# What an agency may see of a list (shared.grants): each field shows these event fields, shown when
# the agency's data-sharing grant covers one of them. A person's industry ban is also shared as
# person.banned (person_ref, reason, legal basis, banned_at, until); an institution's name is the
# filed profile's. Anything else is left out; a list none of whose fields are granted is refused.
_LIST_SOURCES: Sources = {
    "list_name": [(_ENTERED, "list_name")],
    "title": [(_ENTERED, "list_name")],
    "legal_basis": [(_ENTERED, "list_name")],
    "total": [(_ENTERED, "subject_id")],
}


_INSTITUTION_SOURCES: Sources = {
    "subject_kind": [(_ENTERED, "subject_kind")],
    "subject_id": [(_ENTERED, "subject_id")],
    "display_name": [(_FILED, "profile.name")],
    **{f: [(_ENTERED, f)] for f in ("reason", "legal_basis", "entered_at", "until")},
}


_PERSON_SOURCES: Sources = {
    **{f: [(_ENTERED, f)] for f in ("subject_kind", "subject_id", "reason", "legal_basis", "entered_at", "until")},
}


_BANNED_PERSON_SOURCES: Sources = {
    "subject_kind": [(_ENTERED, "subject_kind"), (_BANNED, "person_ref")],
    "subject_id": [(_ENTERED, "subject_id"), (_BANNED, "person_ref")],
    "reason": [(_ENTERED, "reason"), (_BANNED, "reason")],
    "legal_basis": [(_ENTERED, "legal_basis"), (_BANNED, "legal_basis")],
    "entered_at": [(_ENTERED, "entered_at"), (_BANNED, "banned_at")],
    "until": [(_ENTERED, "until"), (_BANNED, "until")],
}


_INDUSTRY_BAN_SOURCES: Sources = {
    **_LIST_SOURCES,
    **{k: [(_BANNED, "person_ref")] for k in ("list_name", "title", "legal_basis", "total")},
}


@router.get(
    "/lists/{list_name}",
    response_model=ListOut,
    summary="Current members of a list: serious_dishonesty (严重失信主体名单) or industry_ban (从业禁止)",
    description="A credit officer gets every field. An agency gets only the members and fields its data-sharing "
    "grant covers (list.entered; for persons banned from the industry also person.banned; an institution's "
    "name with filing.institution.filed's profile.name); an agency without a grant, or whose grant covers none "
    "of the list, gets 403 `no_data_sharing_grant`.",
    responses=error_responses(InvalidInput, Unauthenticated, Forbidden, NoDataSharingGrant),
)
async def list_members(
    list_name: Literal["serious_dishonesty", "industry_ban"], session: DbSession, reader: ListReader, request: Request
) -> ListOut | JSONResponse:
    view = agency_view(reader, grants_of(request.app.state.settings), full_roles=("credit_officer",))
    banned = list_name == "industry_ban"
    list_sources = _INDUSTRY_BAN_SOURCES if banned else _LIST_SOURCES
    person_sources = _BANNED_PERSON_SOURCES if banned else _PERSON_SOURCES
    if not view.full:
        # a list is its members: refused before anything is read when the grant names none of them
        view.require({"institution": _INSTITUTION_SOURCES["subject_id"], "person": person_sources["subject_id"]})
    env = credit_env(request)
    policy = await policy_service.active_policy(session, env)
    members = await evaluation_service.list_members(session, list_name)
    names = await records_service.display_names(session, [(m.subject_kind, m.subject_id) for m in members])
    definition = policy.lists[list_name]
    out = ListOut(
        list_name=list_name,
        title=definition.title_zh,
        legal_basis=definition.legal_basis,
        items=[
            ListMemberOut(
                subject_kind="institution" if m.subject_kind == "institution" else "person",
                subject_id=m.subject_id,
                display_name=names.get((m.subject_kind, m.subject_id)),
                reason=m.reason,
                legal_basis=m.legal_basis,
                entered_at=m.entered_at,
                until=m.until,
            )
            for m in members
        ],
        total=len(members),
    )
    if view.full:
        return out
    # an agency: the members whose kind its grant covers, each with only the granted fields
    items = []
    for item in out.items:
        sources = _INSTITUTION_SOURCES if item.subject_kind == "institution" else person_sources
        if view.covers_any({"subject_id": sources["subject_id"]}):
            items.append(view.redact(item.model_dump(mode="json"), sources))
    header = {k: v for k, v in out.model_dump(mode="json").items() if k != "items" and k != "total"}
    shown = view.redact(header, list_sources) if view.covers_any(list_sources) else {}
    return JSONResponse({**shown, "items": items, "total": len(items)})


@router.post(
    "/policies/{version}/activate",
    response_model=ActivationOut,
    summary="Put a policy version in force and re-grade every subject under it (credit officer)",
    responses=error_responses(PolicyNotFound, PolicyAlreadyActive, Unauthenticated, Forbidden),
)
async def activate_policy(version: str, session: DbSession, officer: CreditOfficer, request: Request) -> ActivationOut:
    env = credit_env(request)
    previous = (await policy_service.active_policy(session, env)).version
    changed = await evaluation_service.activate_policy(
        session, request.app.state.outbox, env, version=version, activated_by=officer.subject
    )
    return ActivationOut(version=version, previous_version=previous, grades_changed=changed)
