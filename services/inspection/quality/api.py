"""Quality assessment (质量评估): schemes (public), assessments (self / on-site) and their reports."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from services.inspection.common import now_of, settings_of
from services.inspection.errors import InstitutionNotInPool, NotAnInspector
from services.inspection.quality import scoring, service
from services.inspection.quality.errors import AssessmentNotFound, SchemeChanged, SchemeNotActive, SchemeNotFound
from services.inspection.quality.models import QualityAssessment
from services.inspection.quality.schemas import (
    AssessmentIn,
    AssessmentList,
    AssessmentOut,
    GradeCutOut,
    SchemeDimensionOut,
    SchemeItemOut,
    SchemeList,
    SchemeOut,
)
from services.inspection.quality.scheme import LoadedScheme, schemes
from shared.auth import Principal, require_roles
from shared.db import DbSession
from shared.errors import Forbidden, InvalidInput, Unauthenticated, error_responses

router = APIRouter(prefix="/v1/quality", tags=["quality"])
Assessor = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "inspector"))]
Reader = Annotated[Principal, Depends(require_roles("filing_officer", "supervisor", "inspector", "ops"))]
AUTH = error_responses(Unauthenticated, Forbidden)


def scheme_out(loaded: LoadedScheme, active: str) -> SchemeOut:
    s = loaded.scheme
    return SchemeOut(
        version=s.version,
        active=s.version == active,
        sha256=loaded.sha256,
        title_zh=s.title_zh,
        standard=s.standard,
        max_score=s.max_score,
        items_confirmed=s.items_confirmed,
        veto_list_confirmed=s.veto_list_confirmed,
        grades_confirmed=s.grades_confirmed,
        note_zh=s.note_zh,
        grades=[GradeCutOut(grade=g.grade, min_score=g.min_score, title_zh=g.title_zh) for g in s.grades]
        + [GradeCutOut(grade=s.lowest_grade, min_score=None, title_zh=s.lowest_grade_title_zh)],
        veto_grade=s.veto_grade,
        reassess_months=dict(s.reassess_months),
        dimensions=[
            SchemeDimensionOut(
                code=d.code,
                title_zh=d.title_zh,
                points=d.points,
                items=[SchemeItemOut(code=i.code, title_zh=i.title_zh, points=i.points, veto=i.veto) for i in d.items],
            )
            for d in s.dimensions
        ],
    )


@router.get("/schemes", response_model=SchemeList, tags=["public"], summary="Assessment schemes (public)")
async def list_schemes(request: Request) -> SchemeList:
    active = settings_of(request).quality_scheme_version
    return SchemeList(active=active, items=[scheme_out(s, active) for s in schemes().values()])


@router.get(
    "/schemes/{version}",
    response_model=SchemeOut,
    tags=["public"],
    summary="One assessment scheme version (public)",
    responses=error_responses(SchemeNotFound),
)
async def get_scheme(version: Annotated[str, Path(max_length=40)], request: Request) -> SchemeOut:
    return scheme_out(service.scheme(version), settings_of(request).quality_scheme_version)


def assessment_out(a: QualityAssessment) -> AssessmentOut:
    return AssessmentOut(
        id=a.id,
        institution_id=a.institution_id,
        district_code=a.district_code,
        kind=a.kind,
        scheme_version=a.scheme_version,
        scheme_sha256=a.scheme_sha256,
        score=a.score,
        max_score=a.max_score,
        grade=a.grade,
        grade_zh=str(a.report.get("grade_zh", a.grade)),
        veto_failed=a.veto_failed,
        veto_failed_items=list(a.veto_failed_items),
        assessed_by=a.assessed_by,
        assessed_at=a.assessed_at,
        reassess_by=a.reassess_by,
        report=a.report,
    )


@router.post(
    "/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentOut,
    summary="Record an assessment: self (filing officer / supervisor for the institution) or onsite (inspector)",
    responses={
        **AUTH,
        **error_responses(
            InvalidInput, InstitutionNotInPool, NotAnInspector, SchemeNotFound, SchemeNotActive, SchemeChanged
        ),
    },
)
async def post_assessment(body: AssessmentIn, session: DbSession, who: Assessor, request: Request) -> AssessmentOut:
    assessment = await service.assess(
        session,
        request.app.state.outbox,
        service.AssessmentInput(
            institution_id=body.institution_id,
            kind=body.kind,
            scheme_version=body.scheme_version,
            answers=[scoring.Answer(code=i.code, score=i.score, veto_met=i.veto_met, note=i.note) for i in body.items],
        ),
        by=who,
        active_version=settings_of(request).quality_scheme_version,
        now=now_of(request),
    )
    return assessment_out(assessment)


@router.get(
    "/assessments/{assessment_id}",
    response_model=AssessmentOut,
    summary="An assessment with its report",
    responses={**AUTH, **error_responses(AssessmentNotFound)},
)
async def get_assessment(assessment_id: uuid.UUID, session: DbSession, reader: Reader) -> AssessmentOut:
    return assessment_out(await service.get(session, assessment_id, reader=reader))


@router.get(
    "/institutions/{institution_id}/assessments",
    response_model=AssessmentList,
    summary="An institution's assessments, newest first, and its latest on-site one",
    responses=AUTH,
)
async def institution_assessments(institution_id: uuid.UUID, session: DbSession, reader: Reader) -> AssessmentList:
    rows = await service.of_institution(session, institution_id, reader=reader)
    onsite = next((a for a in rows if a.kind == "onsite"), None)
    return AssessmentList(
        items=[assessment_out(a) for a in rows], latest_onsite=assessment_out(onsite) if onsite else None
    )
