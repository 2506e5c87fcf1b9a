"""Query and response bodies of the public directory (托育地图). Public: no personal data, ever."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator
from pydantic_core import PydanticCustomError

from shared.events.filing import (
    OPERATING_MODEL_ZH,
    SERVICE_TYPE_ZH,
    ClassType,
    InstitutionProfile,
    ServiceType,
)
from shared.events.inspection import CONCLUSION_ZH
from shared.grades import Grade
from shared.reference import GZ_LATITUDE, GZ_LONGITUDE, district_by_name_or_code, streets

__all__ = ["CONCLUSION_ZH"]  # re-exported: the directory's answers use the one vocabulary

# 举办主体 (the organiser's legal form), as the filing body's OrganiserType codes
ORGANISER_TYPE_ZH: dict[str, str] = {
    "enterprise": "企业",
    "public_institution": "事业单位",
    "social_service": "社会服务机构",
    "employer": "用人单位",
    "individual": "个人",
}
# the age group each class type takes (托育机构设置标准（试行）)
CLASS_AGE_GROUP_ZH: dict[str, str] = {
    "infant": "6—12个月",
    "toddler": "12—24个月",
    "older": "24—36个月",
    "mixed": "18个月以上混龄",
}
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
MAX_QUERY_LENGTH = 50

# Guangzhou's bounding box: a "near" point outside it cannot be a Guangzhou address.
GZ_LAT_MIN, GZ_LAT_MAX = GZ_LATITUDE
GZ_LNG_MIN, GZ_LNG_MAX = GZ_LONGITUDE
MAX_RADIUS_KM = 50.0

_NEAR_FORMAT_ZH = "位置 near 的格式应为“纬度,经度”，例如 23.1291,113.3240"


def _shown(value: str, limit: int = 20) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def parse_near(value: str) -> tuple[float, float]:
    """``"lat,lng"`` -> (lat, lng), both finite and inside Guangzhou's bounding box."""
    parts = value.split(",")
    if len(parts) != 2:
        raise PydanticCustomError("near_invalid", _NEAR_FORMAT_ZH)
    try:
        lat, lng = float(parts[0]), float(parts[1])
    except ValueError:
        raise PydanticCustomError("near_invalid", _NEAR_FORMAT_ZH) from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise PydanticCustomError("near_invalid", _NEAR_FORMAT_ZH)
    if not (GZ_LAT_MIN <= lat <= GZ_LAT_MAX and GZ_LNG_MIN <= lng <= GZ_LNG_MAX):
        raise PydanticCustomError(
            "near_outside_guangzhou",
            f"位置（纬度{lat:g}，经度{lng:g}）不在广州市范围内"
            f"（纬度{GZ_LAT_MIN}–{GZ_LAT_MAX}，经度{GZ_LNG_MIN}–{GZ_LNG_MAX}）",
        )
    return lat, lng


class DirectoryQuery(BaseModel):
    """Filters of ``GET /v1/public/institutions``. District and street come back as their codes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    district: str | None = Field(
        default=None, min_length=1, max_length=20, description="区: code (440106) or name (天河区)"
    )
    street: str | None = Field(
        default=None, min_length=1, max_length=20, description="街道/镇: 9-digit code (440106001)"
    )
    puhui: bool | None = Field(
        default=None,
        description="true: only institutions with 普惠 places (not suspended); false: only those without",
    )
    service_type: ServiceType | None = Field(default=None, description="full_day | half_day | hourly | temporary")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        description="机构名称的一部分 (part of the name, any case), or a whole 统一社会信用代码 (exact)",
    )
    near: str | None = Field(
        default=None, max_length=64, description="lat,lng inside Guangzhou: sort by distance, within radius_km"
    )
    radius_km: float | None = Field(
        default=None, gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False, description="only with near; default 5"
    )
    include_suspended: bool = Field(
        default=False,
        description="true: also institutions suspended (暂停收托) after a confirmed child-abuse case, marked with "
        "`suspension`; by default only those taking children are listed",
    )
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=100)

    @field_validator("district")
    @classmethod
    def _known_district(cls, value: str | None) -> str | None:
        if value is None:
            return None
        district = district_by_name_or_code(value)
        if district is None:
            raise PydanticCustomError(
                "unknown_district",
                f"区“{_shown(value)}”不是广州市的行政区，请使用11个区的名称或代码（如 天河区 或 440106）",
            )
        return district.code

    @field_validator("street")
    @classmethod
    def _known_street(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value not in streets():
            raise PydanticCustomError(
                "unknown_street", f"街道（镇）代码“{_shown(value)}”不存在，应为9位街道（镇）代码，如 440106001"
            )
        return value

    @field_validator("near")
    @classmethod
    def _valid_near(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_near(value)
        return value


class CodeName(BaseModel):
    code: str
    name: str


class LatestInspectionOut(BaseModel):
    conclusion: Literal["compliant", "rectification_required", "non_compliant"]
    conclusion_zh: str
    published_at: datetime
    summary_zh: str


QUALITY_GRADE_ZH: dict[str, str] = {"A": "优秀", "B": "良好", "C": "合格", "D": "不合格"}


class QualityGradeOut(BaseModel):
    grade: Grade
    grade_zh: str
    veto_failed: bool = Field(description="a veto (基础) item was not met: the assessment failed")
    scheme_version: str
    assessed_on: date
    reassess_by: date
    note_zh: str


class PuhuiSuspensionOut(BaseModel):
    """普惠 status suspended: the institution is on the serious-dishonesty list (严重失信主体名单)."""

    status_zh: str = Field(description="普惠 暂停")
    reason_zh: str
    legal_basis: str = Field(description="the list's legal basis, from the credit policy in force")
    since: datetime
    until_zh: str = Field(description="when it ends: on credit repair or when the listing expires")


class SuspensionPublicOut(BaseModel):
    """暂停收托: a confirmed child-abuse case suspended the institution until the filing officers decide
    (恢复收托 or 注销备案); not offered as a normal choice meanwhile, its 普惠 places neither."""

    status_zh: str = Field(description="暂停收托")
    reason_zh: str
    legal_basis: str = Field(description="the confirmed violation's legal basis (violation catalogue)")
    since: datetime
    until_zh: str = Field(description="what ends it: the filing officers' decision to resume or deregister")
    puhui_zh: str = Field(description="普惠 places are not offered while suspended")


class PublicInstitutionOut(InstitutionProfile):
    """One filed institution as the public sees it: the profile, read from the institution's row,
    but for the fields hidden below (so a new field of the profile is shown). ``distance_km`` only
    in a ``near`` search."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    id: UUID
    # read from the row, not shown: district and street are shown with their names
    uscc: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    organiser_type: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    district_code: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    street_code: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    premises_area_m2: float | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    classes: list[Any] | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    # on the institution's record only (its page), not in every entry of the directory's lists
    public_phone: str | None = Field(default=None, exclude=True)
    district: CodeName
    street: CodeName
    credit_grade: Grade | None = Field(description="null: 未评级 (not graded yet)")
    latest_inspection: LatestInspectionOut | None
    quality_assessment: QualityGradeOut | None = Field(
        default=None, description="the latest on-site quality assessment (WS/T 821); absent: 未评估"
    )
    puhui_suspension: PuhuiSuspensionOut | None = Field(
        default=None,
        description="present while 普惠 is suspended (serious-dishonesty list): not offered as 普惠 then",
    )
    suspension: SuspensionPublicOut | None = Field(
        default=None,
        description="present while the institution is suspended (暂停收托): listed only with include_suspended",
    )
    distance_km: float | None = Field(default=None, description="great-circle distance from near, 3 decimals")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def operating_model_zh(self) -> str:
        return OPERATING_MODEL_ZH.get(self.operating_model, self.operating_model)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def service_types_zh(self) -> list[str]:
        return [SERVICE_TYPE_ZH.get(t, t) for t in self.service_types]


class ClassOut(BaseModel):
    class_type: ClassType
    class_type_zh: str
    age_group_zh: str
    size: int


class PublicEnrolmentOut(BaseModel):
    """What the institution's latest annual report (年报) says of its places."""

    year: int = Field(description="the report's year (filed in the year after)")
    enrolled_children: int = Field(description="在托婴幼儿 at the report")
    vacancies: int = Field(description="备案托位 minus 在托婴幼儿 (at least 0)")


class PublicRecordOut(PublicInstitutionOut):
    """The institution's public record (its page): the directory entry plus the filing's public
    facts that the directory's list does not carry."""

    uscc: str = Field(description="统一社会信用代码 (public, as in 国家企业信用信息公示系统)")
    organiser_type: str
    organiser_type_zh: str
    classes: list[ClassOut]
    public_phone: str | None = Field(default=None, description="公开咨询电话; absent: the institution publishes none")
    filing_number: str = Field(description="备案编号: 穗托备 + district code + year filed + order of filing that year")
    filed_on: date = Field(description="备案日期, Beijing date")
    enrolment: PublicEnrolmentOut | None = Field(
        default=None, description="from the latest annual report; absent: no report yet"
    )


class PublicInstitutionPage(BaseModel):
    items: list[PublicInstitutionOut]
    page: int
    page_size: int
    total: int
