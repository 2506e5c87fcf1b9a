"""The public directory (托育地图): filed institutions for families. No login."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Row

from services.filing.directory import service
from services.filing.directory.errors import PublicInstitutionNotFound
from services.filing.directory.schemas import (
    CLASS_AGE_GROUP_ZH,
    CONCLUSION_ZH,
    ORGANISER_TYPE_ZH,
    QUALITY_GRADE_ZH,
    ClassOut,
    CodeName,
    DirectoryQuery,
    PublicEnrolmentOut,
    PublicInstitutionOut,
    PublicInstitutionPage,
    PublicRecordOut,
    parse_near,
)
from services.filing.suspension.schemas import STATUS_ZH as SUSPENSION_STATUS_ZH
from services.filing.suspension.schemas import UNTIL_ZH as SUSPENSION_UNTIL_ZH
from shared.db import DbSession
from shared.errors import InvalidInput, error_responses
from shared.events.filing import CLASS_TYPE_ZH, InstitutionProfile
from shared.reference import districts, streets
from shared.workdays import CHINA

router = APIRouter(prefix="/v1", tags=["directory"])


def _fields(row: Row[Any]) -> dict[str, object]:
    """The answer from a row of the directory's query: the profile's columns (the answer shows
    those the public sees), the district's and street's names, and the projections' facts."""
    # An optional fact appears once stated (exclude_unset), so that entries without it keep exactly
    # their previous shape.
    fields: dict[str, object] = {
        name: value
        for name, info in InstitutionProfile.model_fields.items()
        if (value := getattr(row, name)) is not None or info.is_required()
    }
    # codes were validated against the reference data at filing; the code stands in if not
    district, street = districts().get(row.district_code), streets().get(row.street_code)
    fields.update(
        id=row.id,
        district=CodeName(code=row.district_code, name=district.name if district else row.district_code),
        street=CodeName(code=row.street_code, name=street.name if street else row.street_code),
        credit_grade=row.credit_grade,
        latest_inspection=None
        if row.inspection_conclusion is None
        else {
            "conclusion": row.inspection_conclusion,
            "conclusion_zh": CONCLUSION_ZH.get(row.inspection_conclusion, row.inspection_conclusion),
            "published_at": row.inspection_published_at,
            "summary_zh": row.inspection_summary_zh,
        },
    )
    if row.quality_grade is not None:
        # set only once an on-site assessment exists, so that only then does the field appear
        # (exclude_unset): entries without one keep exactly their previous shape
        fields["quality_assessment"] = {
            "grade": row.quality_grade,
            "grade_zh": QUALITY_GRADE_ZH.get(row.quality_grade, row.quality_grade),
            "veto_failed": row.quality_veto_failed,
            "scheme_version": row.quality_scheme_version,
            "assessed_on": row.quality_assessed_at.astimezone(CHINA).date(),
            "reassess_by": row.quality_reassess_by,
            "note_zh": "依据WS/T 821—2023（推荐性标准）现场评估；等级分数线为暂定值",
        }
    if row.puhui_suspended_since is not None:
        # set only while suspended (exclude_unset): other entries keep exactly their previous shape
        fields["puhui_suspension"] = {
            "status_zh": "普惠 暂停",
            "reason_zh": row.puhui_suspended_reason,
            "legal_basis": row.puhui_suspended_legal_basis,
            "since": row.puhui_suspended_since,
            "until_zh": "信用修复或列入严重失信主体名单的期限届满后恢复",
        }
    if row.suspended_since is not None:
        # set only while suspended (exclude_unset): other entries keep exactly their previous shape
        fields["suspension"] = {
            "status_zh": SUSPENSION_STATUS_ZH,
            "reason_zh": row.suspended_reason,
            "legal_basis": row.suspended_legal_basis,
            "since": row.suspended_since,
            "until_zh": SUSPENSION_UNTIL_ZH,
            "puhui_zh": "暂停收托期间不提供普惠托位",
        }
    if "distance_km" in row._fields:
        # only in a "near" search, so that only then does the field appear (exclude_unset)
        fields["distance_km"] = round(row.distance_km, 3)
    return fields


def _out(row: Row[Any]) -> PublicInstitutionOut:
    return PublicInstitutionOut.model_validate(_fields(row))


def _record(row: Row[Any]) -> PublicRecordOut:
    fields = _fields(row)
    filed_on = row.filed_at.astimezone(CHINA).date()
    fields.update(
        organiser_type_zh=ORGANISER_TYPE_ZH.get(row.organiser_type, row.organiser_type),
        classes=[
            ClassOut(
                class_type=c["class_type"],
                class_type_zh=CLASS_TYPE_ZH.get(c["class_type"], c["class_type"]),
                age_group_zh=CLASS_AGE_GROUP_ZH.get(c["class_type"], ""),
                size=c["size"],
            )
            for c in row.classes
        ],
        filing_number=f"穗托备{row.district_code}{filed_on.year}{row.filing_order:04d}",
        filed_on=filed_on,
    )
    if row.report_year is not None:
        fields["enrolment"] = PublicEnrolmentOut(
            year=row.report_year,
            enrolled_children=row.report_enrolled,
            vacancies=max(0, row.total_slots - row.report_enrolled),
        )
    return PublicRecordOut.model_validate(fields)


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
            q=query.q,
            near=parse_near(query.near) if query.near is not None else None,
            radius_km=query.radius_km,
            page=query.page,
            page_size=query.page_size,
            include_suspended=query.include_suspended,
        ),
    )
    return PublicInstitutionPage(
        items=[_out(v) for v in page.items], page=page.page, page_size=page.page_size, total=page.total
    )


@router.get(
    "/public/institutions/{institution_id}",
    response_model=PublicInstitutionOut,
    response_model_exclude_unset=True,
    summary="托育地图: one filed institution (public, no login); a suspended one (暂停收托) carries `suspension`",
    responses=error_responses(PublicInstitutionNotFound, InvalidInput),
)
async def get_public_institution(institution_id: uuid.UUID, session: DbSession) -> PublicInstitutionOut:
    return _out(await service.get_public_institution(session, institution_id))


@router.get(
    "/public/institutions/{institution_id}/record",
    response_model=PublicRecordOut,
    response_model_exclude_unset=True,
    summary="The institution's public record: the directory entry plus its filing's public facts (no login)",
    responses=error_responses(PublicInstitutionNotFound, InvalidInput),
)
async def get_public_record(institution_id: uuid.UUID, session: DbSession) -> PublicRecordOut:
    return _record(await service.get_public_record(session, institution_id))
