"""SQL of the public directory: filed institutions joined with their grade and inspection projections,
and the projections' "newest wins" upserts."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Row, Select, Table, func, literal, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.annual_reports.models import AnnualReport
from services.filing.directory.models import (
    DirectoryCreditGrade,
    DirectoryInspectionResult,
    DirectoryPuhuiSuspension,
    DirectoryQualityGrade,
)
from services.filing.models import Institution, InstitutionSuspension
from shared.events.filing import InstitutionProfile
from shared.projection import upsert_newest

_institution: Table = Institution.__table__  # type: ignore[assignment]
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
# Inline, not a bind parameter: the planner can only use the partial index
# ix_institution_filed_location when it sees the constant (prepared statements get generic plans).
FILED: ColumnElement[str] = literal_column("'filed'")
# 暂停收托 (services/filing/suspension): shown on its record and by an explicit filter, never by default
SUSPENDED: ColumnElement[str] = literal_column("'suspended'")


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class Criteria:
    district_code: str | None = None
    street_code: str | None = None
    puhui: bool | None = None
    service_type: str | None = None
    near: Near | None = None
    # a whole unified social credit code (exact), else part of the name
    uscc: str | None = None
    name_part: str | None = None
    # also suspended institutions (暂停收托), marked; by default only those taking children
    include_suspended: bool = False


def _columns() -> list[Any]:
    return [
        Institution.id,
        # the profile's columns, by their names: the answer shows those the public sees
        *(_institution.c[name] for name in InstitutionProfile.model_fields),
        DirectoryCreditGrade.grade.label("credit_grade"),
        DirectoryInspectionResult.conclusion.label("inspection_conclusion"),
        DirectoryInspectionResult.published_at.label("inspection_published_at"),
        DirectoryInspectionResult.summary_zh.label("inspection_summary_zh"),
        DirectoryQualityGrade.grade.label("quality_grade"),
        DirectoryQualityGrade.veto_failed.label("quality_veto_failed"),
        DirectoryQualityGrade.scheme_version.label("quality_scheme_version"),
        DirectoryQualityGrade.assessed_at.label("quality_assessed_at"),
        DirectoryQualityGrade.reassess_by.label("quality_reassess_by"),
        DirectoryPuhuiSuspension.reason.label("puhui_suspended_reason"),
        DirectoryPuhuiSuspension.legal_basis.label("puhui_suspended_legal_basis"),
        DirectoryPuhuiSuspension.entered_at.label("puhui_suspended_since"),
        InstitutionSuspension.reason.label("suspended_reason"),
        InstitutionSuspension.legal_basis.label("suspended_legal_basis"),
        InstitutionSuspension.suspended_at.label("suspended_since"),
    ]


def _with_projections(stmt: Select[Any]) -> Select[Any]:
    return (
        stmt.select_from(Institution)
        .outerjoin(DirectoryCreditGrade, DirectoryCreditGrade.institution_id == Institution.id)
        .outerjoin(DirectoryInspectionResult, DirectoryInspectionResult.institution_id == Institution.id)
        .outerjoin(DirectoryQualityGrade, DirectoryQualityGrade.institution_id == Institution.id)
        .outerjoin(DirectoryPuhuiSuspension, _puhui_suspended())
        .outerjoin(
            InstitutionSuspension,
            (InstitutionSuspension.institution_id == Institution.id)
            & (Institution.status == SUSPENDED)
            & InstitutionSuspension.decided_at.is_(None),
        )
    )


def _puhui_suspended() -> ColumnElement[bool]:
    """The join to a 普惠 suspension in effect (a left one is kept as the newest fact, not shown)."""
    return (DirectoryPuhuiSuspension.institution_id == Institution.id) & DirectoryPuhuiSuspension.left_at.is_(None)


def _distance_km(near: Near) -> ColumnElement[float]:
    """Haversine great-circle distance in plain PostgreSQL math (no PostGIS)."""
    lat = literal(near.latitude, Float)
    lng = literal(near.longitude, Float)
    half_dlat = func.sin(func.radians(Institution.latitude - lat) / 2.0)
    half_dlng = func.sin(func.radians(Institution.longitude - lng) / 2.0)
    a = (
        half_dlat * half_dlat
        + func.cos(func.radians(lat)) * func.cos(func.radians(Institution.latitude)) * half_dlng * half_dlng
    )
    # least(): rounding can push a hair above 1 for antipodal points, and asin(>1) is an error
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(func.least(a, 1.0)), type_=Float)


def _bounding_box(near: Near) -> list[ColumnElement[bool]]:
    """The latitude/longitude box around the circle (exact extent, plus a hair), for the index."""
    angular = near.radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angular)
    dlng = math.degrees(math.asin(min(1.0, math.sin(angular) / math.cos(math.radians(near.latitude)))))
    margin = 1e-9
    return [
        Institution.latitude.between(near.latitude - dlat - margin, near.latitude + dlat + margin),
        Institution.longitude.between(near.longitude - dlng - margin, near.longitude + dlng + margin),
    ]


def _conditions(criteria: Criteria) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Institution.status.in_([FILED, SUSPENDED]) if criteria.include_suspended else Institution.status == FILED
    ]
    if criteria.district_code is not None:
        conditions.append(Institution.district_code == criteria.district_code)
    if criteria.street_code is not None:
        conditions.append(Institution.street_code == criteria.street_code)
    # a suspended 普惠 status is not offered as 普惠 (serious-dishonesty list), nor are the places of a
    # suspended institution (暂停收托): either counts as none
    if criteria.puhui is True:
        conditions.append(Institution.puhui_slots > 0)
        conditions.append(DirectoryPuhuiSuspension.institution_id.is_(None))
        conditions.append(Institution.status == FILED)
    elif criteria.puhui is False:
        conditions.append(
            (Institution.puhui_slots == 0)
            | DirectoryPuhuiSuspension.institution_id.is_not(None)
            | (Institution.status == SUSPENDED)
        )
    if criteria.service_type is not None:
        conditions.append(Institution.service_types.any_() == criteria.service_type)
    if criteria.uscc is not None:
        conditions.append(Institution.uscc == criteria.uscc)
    if criteria.name_part is not None:
        # ILIKE '%…%' with the pattern's own wildcards escaped; served by ix_institution_filed_name_trgm
        escaped = criteria.name_part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Institution.name.ilike(f"%{escaped}%", escape="\\"))
    if criteria.near is not None:
        conditions += _bounding_box(criteria.near)
        conditions.append(_distance_km(criteria.near) <= criteria.near.radius_km)
    return conditions


async def search(
    session: AsyncSession, criteria: Criteria, *, offset: int, limit: int
) -> tuple[Sequence[Row[Any]], int]:
    """One page of matching filed institutions and the total number of matches."""
    conditions = _conditions(criteria)
    counted = select(func.count()).select_from(Institution).outerjoin(DirectoryPuhuiSuspension, _puhui_suspended())
    total = (await session.execute(counted.where(*conditions))).scalar_one()
    columns = _columns()
    if criteria.near is not None:
        distance = _distance_km(criteria.near)
        stmt = _with_projections(select(*columns, distance.label("distance_km"))).order_by(
            distance, Institution.name, Institution.id
        )
    else:
        stmt = _with_projections(select(*columns)).order_by(Institution.name, Institution.id)
    rows = (await session.execute(stmt.where(*conditions).offset(offset).limit(limit))).all()
    return rows, int(total)


def _public_status() -> ColumnElement[bool]:
    """One institution by its link: filed, or suspended (暂停收托, shown marked)."""
    return Institution.status.in_([FILED, SUSPENDED])


async def find_filed(session: AsyncSession, institution_id: uuid.UUID) -> Row[Any] | None:
    stmt = _with_projections(select(*_columns())).where(Institution.id == institution_id, _public_status())
    return (await session.execute(stmt)).first()


async def find_filed_record(session: AsyncSession, institution_id: uuid.UUID) -> Row[Any] | None:
    """``find_filed`` plus the filing's date and its order among the district's filings of that
    (Beijing) year: the filing number's sequence."""
    this_year = func.extract("year", func.timezone("Asia/Shanghai", Institution.filed_at))
    earlier = Institution.__table__.alias("earlier")
    order = (
        select(func.count())
        .select_from(earlier)
        .where(
            earlier.c.district_code == Institution.district_code,
            earlier.c.filed_at.is_not(None),
            func.extract("year", func.timezone("Asia/Shanghai", earlier.c.filed_at)) == this_year,
            tuple_(earlier.c.filed_at, earlier.c.id) <= tuple_(Institution.filed_at, Institution.id),
        )
        .scalar_subquery()
    )
    # the latest annual report's enrolment (年报在托人数): the vacancies the record states, with its year
    latest_report = (
        select(AnnualReport.year, AnnualReport.enrolled_children)
        .where(AnnualReport.institution_id == Institution.id)
        .order_by(AnnualReport.year.desc())
        .limit(1)
        .correlate(Institution)
        .lateral("latest_report")
    )
    stmt = (
        _with_projections(
            select(
                *_columns(),
                Institution.filed_at,
                order.label("filing_order"),
                latest_report.c.year.label("report_year"),
                latest_report.c.enrolled_children.label("report_enrolled"),
            )
        )
        .outerjoin(latest_report, literal(True))
        .where(Institution.id == institution_id, _public_status())
    )
    return (await session.execute(stmt)).first()


async def _upsert_newest(session: AsyncSession, model: Any, newest_by: str, **values: Any) -> bool:
    """One row per institution, replaced only by a newer fact (shared.projection). True if
    ``values`` were stored."""
    return await upsert_newest(session, model, values, newest_by=newest_by, touched_at="updated_at")


async def upsert_grade_if_newer(
    session: AsyncSession,
    *,
    institution_id: uuid.UUID,
    grade: str,
    score: float,
    policy_version: str,
    graded_at: datetime,
    event_id: str,
) -> bool:
    """Keep the grade with the latest ``graded_at``; True if this one was stored."""
    return await _upsert_newest(
        session,
        DirectoryCreditGrade,
        "graded_at",
        institution_id=institution_id,
        grade=grade,
        score=score,
        policy_version=policy_version,
        graded_at=graded_at,
        event_id=event_id,
    )


async def upsert_inspection_if_newer(
    session: AsyncSession,
    *,
    institution_id: uuid.UUID,
    task_id: uuid.UUID,
    conclusion: str,
    violation_count: int,
    summary_zh: str,
    inspected_at: datetime,
    published_at: datetime,
    event_id: str,
) -> bool:
    """Keep the result with the latest ``published_at``; True if this one was stored."""
    return await _upsert_newest(
        session,
        DirectoryInspectionResult,
        "published_at",
        institution_id=institution_id,
        task_id=task_id,
        conclusion=conclusion,
        violation_count=violation_count,
        summary_zh=summary_zh,
        inspected_at=inspected_at,
        published_at=published_at,
        event_id=event_id,
    )


async def upsert_quality_if_newer(
    session: AsyncSession,
    *,
    institution_id: uuid.UUID,
    assessment_id: uuid.UUID,
    grade: str,
    score: float,
    veto_failed: bool,
    scheme_version: str,
    assessed_at: datetime,
    reassess_by: date,
    event_id: str,
) -> bool:
    """Keep the on-site assessment with the latest ``assessed_at``; True if this one was stored."""
    return await _upsert_newest(
        session,
        DirectoryQualityGrade,
        "assessed_at",
        institution_id=institution_id,
        assessment_id=assessment_id,
        grade=grade,
        score=score,
        veto_failed=veto_failed,
        scheme_version=scheme_version,
        assessed_at=assessed_at,
        reassess_by=reassess_by,
        event_id=event_id,
    )


async def upsert_puhui_suspension_if_newer(
    session: AsyncSession,
    *,
    institution_id: uuid.UUID,
    reason: str,
    legal_basis: str,
    entered_at: datetime,
    left_at: datetime | None,
    event_id: str,
) -> bool:
    """Keep the newest change of the institution's serious-dishonesty listing; True if stored."""
    return await _upsert_newest(
        session,
        DirectoryPuhuiSuspension,
        "changed_at",
        institution_id=institution_id,
        reason=reason,
        legal_basis=legal_basis,
        entered_at=entered_at,
        left_at=left_at,
        changed_at=left_at or entered_at,
        event_id=event_id,
    )
