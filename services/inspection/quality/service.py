"""Quality assessments (质量评估): a self-assessment recorded for the institution (filing officer or
supervisor) or an on-site assessment by registered assessors (inspectors), scored under the active
scheme version; the grade, its report and the reassessment due date; ``QualityAssessedV1``.

Scheme changes: a version, once used, never changes meaning. Assessments keep the version and the
file's SHA-256 they were scored under and are never regraded; a scheme file edited after first use is
refused (``scheme_version_changed``); a new version applies to new assessments only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.errors import InstitutionNotInPool, NotAnInspector
from services.inspection.pool import repository as pool_repository
from services.inspection.quality import repository, scoring
from services.inspection.quality.errors import AssessmentNotFound, SchemeChanged, SchemeNotActive, SchemeNotFound
from services.inspection.quality.models import QualityAssessment
from services.inspection.quality.scheme import LoadedScheme, schemes
from shared.auth import Principal
from shared.errors import Forbidden, InvalidInput
from shared.events.inspection import QualityAssessedV1
from shared.outbox import Outbox
from shared.reference import districts
from shared.scope import DistrictOutOfScope, district_codes, require_district
from shared.workdays import china_today


@dataclass(frozen=True)
class AssessmentInput:
    institution_id: uuid.UUID
    kind: str
    scheme_version: str
    answers: list[scoring.Answer]


def scheme(version: str) -> LoadedScheme:
    found = schemes().get(version)
    if found is None:
        raise SchemeNotFound()
    return found


async def assess(
    session: AsyncSession,
    outbox: Outbox,
    data: AssessmentInput,
    *,
    by: Principal,
    active_version: str,
    now: datetime,
) -> QualityAssessment:
    if data.kind == "self" and not (by.has("filing_officer") or by.has("supervisor")):
        raise Forbidden("自评由备案工作人员或主管代机构录入", code="role_required", field="kind")
    assessor = None
    if data.kind == "onsite":
        if not by.has("inspector"):
            raise Forbidden("现场评估须由登记在册的评估（检查）人员录入", code="role_required", field="kind")
        assessor = await pool_repository.inspector_by_subject(session, by.subject)
        if assessor is None or not assessor.active:
            raise NotAnInspector()
    institution = await pool_repository.get_institution(session, data.institution_id)
    if institution is None or institution.status != "filed":
        raise InstitutionNotInPool(field="institution_id")
    if assessor is not None and institution.district_code not in assessor.districts:
        raise Forbidden("您不负责该机构所在区的评估", code="out_of_district", field="institution_id")
    if data.kind == "self" and not by.has("supervisor"):
        # a filing officer records a self-assessment only for an institution of the token's districts
        require_district(by, institution.district_code, field="institution_id")
    if data.scheme_version != active_version:
        raise SchemeNotActive(
            f"当前启用的评估方案为{active_version}，提交的是{data.scheme_version}；请按当前版本填写",
            field="scheme_version",
        )
    loaded = scheme(data.scheme_version)
    stored = await repository.register_scheme_use(session, loaded.scheme.version, loaded.sha256, now)
    if stored != loaded.sha256:
        raise SchemeChanged(field="scheme_version")
    try:
        result = scoring.score(loaded.scheme, data.answers)
    except scoring.AnswersInvalid as exc:
        first = exc.problems[0]
        raise InvalidInput(
            first.message_zh,
            code=first.code,
            field=first.field,
            errors=[{"field": p.field, "code": p.code, "message": p.message_zh} for p in exc.problems[:50]],
        ) from None
    today = china_today(now)
    assessment = QualityAssessment(
        id=uuid.uuid4(),
        institution_id=institution.institution_id,
        district_code=institution.district_code,
        scheme_version=loaded.scheme.version,
        scheme_sha256=loaded.sha256,
        kind=data.kind,
        answers=[{"code": a.code, "score": a.score, "veto_met": a.veto_met, "note": a.note} for a in data.answers],
        score=result.score,
        max_score=result.max_score,
        grade=result.grade,
        veto_failed=result.veto_failed,
        veto_failed_items=list(result.veto_failed_items),
        report=result.report,
        assessed_by=by.subject,
        assessed_at=now,
        reassess_by=scoring.reassess_by(loaded.scheme, result.grade, today),
    )
    await repository.add(session, assessment)
    await outbox.add(
        session,
        QualityAssessedV1(
            assessment_id=assessment.id,
            institution_id=assessment.institution_id,
            district_code=assessment.district_code,
            scheme_version=assessment.scheme_version,
            kind="self" if data.kind == "self" else "onsite",
            score=result.score,
            max_score=result.max_score,
            grade=result.grade,
            veto_failed=result.veto_failed,
            veto_failed_items=list(result.veto_failed_items),
            dimension_scores=result.dimension_scores,
            assessed_by=by.subject,
            assessed_at=now,
            reassess_by=assessment.reassess_by,
        ),
        subject=str(assessment.institution_id),
    )
    return assessment


async def get(session: AsyncSession, assessment_id: uuid.UUID, *, reader: Principal) -> QualityAssessment:
    found = await repository.get(session, assessment_id)
    if found is None:
        raise AssessmentNotFound()
    await require_readable(session, reader, found.district_code)
    return found


async def of_institution(
    session: AsyncSession, institution_id: uuid.UUID, *, reader: Principal
) -> Sequence[QualityAssessment]:
    rows = await repository.of_institution(session, institution_id)
    institution = await pool_repository.get_institution(session, institution_id)
    district = institution.district_code if institution is not None else rows[0].district_code if rows else None
    if district is not None:
        await require_readable(session, reader, district)
    return rows


async def require_readable(session: AsyncSession, reader: Principal, district_code: str) -> None:
    """District scope of the assessments (shared.scope): supervisors and ops read the city; a
    filing officer reads the token's districts; an inspector the districts the pool records for
    them (an unregistered or deactivated one: none)."""
    if reader.has("supervisor") or reader.has("ops"):
        return
    allowed = set(district_codes(reader.districts)) if reader.has("filing_officer") else set()
    if reader.has("inspector"):
        inspector = await pool_repository.inspector_by_subject(session, reader.subject)
        if inspector is not None and inspector.active:
            allowed.update(inspector.districts)
    if district_code not in allowed:
        name = districts()[district_code].name if district_code in districts() else district_code
        raise DistrictOutOfScope(f"该评估所属机构在{name}，不在您的辖区，无权查看", field="institution_id")
