"""The public directory (托育地图): filed institutions for families. No login."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.filing.directory import service
from services.filing.directory.errors import PublicInstitutionNotFound
from services.filing.directory.schemas import (
    CONCLUSION_ZH,
    QUALITY_GRADE_ZH,
    CodeName,
    DirectoryQuery,
    PublicInstitutionOut,
    PublicInstitutionPage,
    parse_near,
)
from shared.db import DbSession
from shared.errors import InvalidInput, error_responses
from shared.events.filing import OPERATING_MODEL_ZH, SERVICE_TYPE_ZH
from shared.workdays import CHINA

router = APIRouter(prefix="/v1", tags=["directory"])


def _out(view: service.PublicInstitutionView) -> PublicInstitutionOut:
    inspection = view.latest_inspection
    fields: dict[str, object] = {
        "id": view.id,
        "name": view.name,
        "operating_model": view.operating_model,
        "operating_model_zh": OPERATING_MODEL_ZH.get(view.operating_model, view.operating_model),
        "service_types": view.service_types,
        "service_types_zh": [SERVICE_TYPE_ZH.get(t, t) for t in view.service_types],
        "district": CodeName(code=view.district_code, name=view.district_name),
        "street": CodeName(code=view.street_code, name=view.street_name),
        "address": view.address,
        "latitude": view.latitude,
        "longitude": view.longitude,
        "total_slots": view.total_slots,
        "puhui_slots": view.puhui_slots,
        "monthly_fee_yuan": view.monthly_fee_yuan,
        "meals": view.meals,
        "credit_grade": view.credit_grade,
        "latest_inspection": None
        if inspection is None
        else {
            "conclusion": inspection.conclusion,
            "conclusion_zh": CONCLUSION_ZH.get(inspection.conclusion, inspection.conclusion),
            "published_at": inspection.published_at,
            "summary_zh": inspection.summary_zh,
        },
    }
    quality = view.quality
    if quality is not None:
        # set only once an on-site assessment exists, so that only then does the field appear
        # (exclude_unset): entries without one keep exactly their previous shape
        fields["quality_assessment"] = {
            "grade": quality.grade,
            "grade_zh": QUALITY_GRADE_ZH.get(quality.grade, quality.grade),
            "veto_failed": quality.veto_failed,
            "scheme_version": quality.scheme_version,
            "assessed_on": quality.assessed_at.astimezone(CHINA).date(),
            "reassess_by": quality.reassess_by,
            "note_zh": "依据WS/T 821—2023（推荐性标准）现场评估；等级分数线为暂定值",
        }
    if view.distance_km is not None:
        # set only in a "near" search, so that only then does the field appear (exclude_unset)
        fields["distance_km"] = view.distance_km
    return PublicInstitutionOut.model_validate(fields)


@router.get(
    "/public/institutions",
    response_model=PublicInstitutionPage,
    response_model_exclude_unset=True,
    summary="托育地图: search filed institutions (public, no login)",
    responses=error_responses(InvalidInput),
)
async def search_institutions(query: Annotated[DirectoryQuery, Query()], session: DbSession) -> PublicInstitutionPage:
    page = await service.search(
        session,
        service.SearchRequest(
            district_code=query.district,
            street_code=query.street,
            puhui=query.puhui,
            service_type=query.service_type,
            near=parse_near(query.near) if query.near is not None else None,
            radius_km=query.radius_km,
            page=query.page,
            page_size=query.page_size,
        ),
    )
    return PublicInstitutionPage(
        items=[_out(v) for v in page.items], page=page.page, page_size=page.page_size, total=page.total
    )


@router.get(
    "/public/institutions/{institution_id}",
    response_model=PublicInstitutionOut,
    response_model_exclude_unset=True,
    summary="托育地图: one filed institution (public, no login)",
    responses=error_responses(PublicInstitutionNotFound, InvalidInput),
)
async def get_public_institution(institution_id: uuid.UUID, session: DbSession) -> PublicInstitutionOut:
    return _out(await service.get_public_institution(session, institution_id))
