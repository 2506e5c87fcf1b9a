"""The public directory (托育地图): filed institutions for families, with the credit grade and the
latest published inspection result that the filing service projects from other services' events.

Only ``filed`` institutions are listed by default; a suspended one (暂停收托) is shown, marked, by
its link and by ``include_suspended``. Only public facts about them: no staff, no personal phone
numbers, no officer ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.directory import repository
from services.filing.directory.errors import PublicInstitutionNotFound, RadiusWithoutNear, StreetNotInDistrict
from services.filing.directory.schemas import USCC_PATTERN
from shared.events.credit import CreditListEnteredV1, CreditListLeftV1, InstitutionGradedV1
from shared.events.inspection import InspectionResultPublishedV1, QualityAssessedV1
from shared.reference import districts, streets

DEFAULT_RADIUS_KM = 5.0


@dataclass(frozen=True)
class SearchRequest:
    """Already-validated filters: known district/street codes, ``near`` inside Guangzhou."""

    district_code: str | None = None
    street_code: str | None = None
    puhui: bool | None = None
    service_type: str | None = None
    q: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    page: int = 1
    page_size: int = 20
    include_suspended: bool = False


@dataclass(frozen=True)
class DirectoryPage:
    # filed institutions with their projections' facts (repository._columns), ``distance_km`` in a near search
    items: Sequence[Row[Any]]
    page: int
    page_size: int
    total: int


def _criteria(request: SearchRequest) -> repository.Criteria:
    if request.district_code is not None and request.street_code is not None:
        street = streets()[request.street_code]
        if street.district_code != request.district_code:
            district = districts()[request.district_code]
            actual = districts()[street.district_code]
            raise StreetNotInDistrict(
                f"{street.name}（{street.code}）不属于{district.name}，而属于{actual.name}", field="street"
            )
    near = None
    if request.near is not None:
        radius = request.radius_km if request.radius_km is not None else DEFAULT_RADIUS_KM
        near = repository.Near(latitude=request.near[0], longitude=request.near[1], radius_km=radius)
    elif request.radius_km is not None:
        raise RadiusWithoutNear()
    uscc = name_part = None
    if request.q is not None:
        # a whole code (any case) is looked up exactly; anything else is part of a name
        if USCC_PATTERN.match(request.q.upper()):
            uscc = request.q.upper()
        else:
            name_part = request.q
    return repository.Criteria(
        uscc=uscc,
        name_part=name_part,
        district_code=request.district_code,
        street_code=request.street_code,
        puhui=request.puhui,
        service_type=request.service_type,
        near=near,
        include_suspended=request.include_suspended,
    )


async def search(session: AsyncSession, request: SearchRequest) -> DirectoryPage:
    """Filed institutions matching the filters: by distance when ``near`` is given, else by name."""
    criteria = _criteria(request)
    rows, total = await repository.search(
        session, criteria, offset=(request.page - 1) * request.page_size, limit=request.page_size
    )
    return DirectoryPage(items=rows, page=request.page, page_size=request.page_size, total=total)


async def get_public_institution(session: AsyncSession, institution_id: uuid.UUID) -> Row[Any]:
    row = await repository.find_filed(session, institution_id)
    if row is None:
        raise PublicInstitutionNotFound()
    return row


async def get_public_record(session: AsyncSession, institution_id: uuid.UUID) -> Row[Any]:
    row = await repository.find_filed_record(session, institution_id)
    if row is None:
        raise PublicInstitutionNotFound()
    return row


async def record_grade(session: AsyncSession, data: InstitutionGradedV1, *, event_id: str) -> bool:
    """Project a credit grade; an older grade arriving late is ignored. True if stored."""
    return await repository.upsert_grade_if_newer(
        session,
        institution_id=data.institution_id,
        grade=data.grade,
        score=data.score,
        policy_version=data.policy_version,
        graded_at=data.graded_at,
        event_id=event_id,
    )


async def record_listing(session: AsyncSession, data: CreditListEnteredV1 | CreditListLeftV1, *, event_id: str) -> bool:
    """An institution entered or left the serious-dishonesty list (严重失信主体名单): its 普惠 status is
    suspended until it leaves (repaired or expired), the list's reason and legal basis shown. Other
    lists (从业禁止, persons) are not the directory's. True if stored."""
    if data.list_name != "serious_dishonesty" or data.subject_kind != "institution":
        return False
    institution_id = uuid.UUID(data.subject_id)
    if isinstance(data, CreditListEnteredV1):
        return await repository.upsert_puhui_suspension_if_newer(
            session,
            institution_id=institution_id,
            reason=data.reason,
            legal_basis=data.legal_basis,
            entered_at=data.entered_at,
            left_at=None,
            event_id=event_id,
        )
    # the exit carries no legal basis or entry time: those of the stay stay (or empty if the exit
    # came first; the entry, older, then does not replace it)
    return await repository.upsert_puhui_suspension_if_newer(
        session,
        institution_id=institution_id,
        reason=data.reason,
        legal_basis="",
        entered_at=data.left_at,
        left_at=data.left_at,
        event_id=event_id,
    )


async def record_inspection_result(session: AsyncSession, data: InspectionResultPublishedV1, *, event_id: str) -> bool:
    """Project a published inspection result; an older one arriving late is ignored. True if stored."""
    return await repository.upsert_inspection_if_newer(
        session,
        institution_id=data.institution_id,
        task_id=data.task_id,
        conclusion=data.conclusion,
        violation_count=data.violation_count,
        summary_zh=data.summary_zh,
        inspected_at=data.inspected_at,
        published_at=data.published_at,
        event_id=event_id,
    )


async def record_quality(session: AsyncSession, data: QualityAssessedV1, *, event_id: str) -> bool:
    """Project an on-site quality assessment (self-assessments are not shown); newest wins."""
    if data.kind != "onsite":
        return False
    return await repository.upsert_quality_if_newer(
        session,
        institution_id=data.institution_id,
        assessment_id=data.assessment_id,
        grade=data.grade,
        score=data.score,
        veto_failed=data.veto_failed,
        scheme_version=data.scheme_version,
        assessed_at=data.assessed_at,
        reassess_by=data.reassess_by,
        event_id=event_id,
    )
