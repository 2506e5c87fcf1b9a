"""Request and response bodies of the institution filing API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    computed_field,
    create_model,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from shared.events.filing import (
    CLASS_TYPE_ZH,
    OPERATING_MODEL_ZH,
    Change,
    ClassPlan,
    ClassType,
    InstitutionProfile,
    ServiceType,
    fields_marked,
)
from shared.identifiers import IdentifierError, validate_uscc
from shared.reference import GZ_LATITUDE, GZ_LONGITUDE, districts, streets
from shared.text import PublicName, PublicText, RequestModel

# 托育机构设置标准（试行） class sizes: (maximum children per class, Chinese name)
CLASS_LIMITS: dict[str, tuple[int, str]] = {
    "infant": (10, "乳儿班"),
    "toddler": (15, "托小班"),
    "older": (20, "托大班"),
    "mixed": (18, "混合班"),
}
ORGANISER_TYPE_ZH: dict[str, str] = {
    "enterprise": "企业（营利性）",
    "public_institution": "事业单位",
    "social_service": "社会服务机构（非营利）",
    "employer": "机关、企事业用人单位",
    "individual": "个体工商户",
}
OrganiserType = Literal["enterprise", "public_institution", "social_service", "employer", "individual"]
DocumentKind = Literal["business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"]
DOCUMENT_ZH: dict[str, str] = {
    "business_licence": "营业执照或法人登记证书",
    "premises_proof": "场地证明",
    "hygiene_evaluation": "托幼机构卫生评价报告",
    "fire_safety": "消防安全检查合格证明",
    "food_licence": "食品经营许可证",
}
GZ_LAT = GZ_LATITUDE
GZ_LNG = GZ_LONGITUDE

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[PublicName, StringConstraints(min_length=2, max_length=100)]
Address = Annotated[PublicText, StringConstraints(min_length=4, max_length=200)]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+\-() ]{7,20}$")]


class ClassIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    class_type: ClassType = Field(
        description="infant 乳儿班 ≤10 | toddler 托小班 ≤15 | older 托大班 ≤20 | mixed 混合班 ≤18"
    )
    size: int = Field(ge=1, le=100, description="children in this class")

    @field_validator("size")
    @classmethod
    def _within_limit(cls, size: int, info: ValidationInfo) -> int:
        class_type = info.data.get("class_type")
        if class_type in CLASS_LIMITS:
            limit, name = CLASS_LIMITS[class_type]
            if size > limit:
                raise PydanticCustomError("class_size_exceeded", f"{name}每班不超过{limit}人，当前为{size}人")
        return size


def _check_latitude(value: float) -> float:
    if not GZ_LAT[0] <= value <= GZ_LAT[1]:
        raise PydanticCustomError("coordinates_outside_guangzhou", "纬度不在广州市范围内")
    return value


def _check_longitude(value: float) -> float:
    if not GZ_LNG[0] <= value <= GZ_LNG[1]:
        raise PydanticCustomError("coordinates_outside_guangzhou", "经度不在广州市范围内")
    return value


def _check_unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("duplicate_values", "服务类型不能重复")
    return value


# Rules as types (not validators of one model), so that a change is held to them like a filing.
Latitude = Annotated[float, AfterValidator(_check_latitude)]
Longitude = Annotated[float, AfterValidator(_check_longitude)]
ServiceTypes = Annotated[list[ServiceType], AfterValidator(_check_unique)]


class FilingRecord(InstitutionProfile):
    """An institution's filing: its public profile plus what only the administration sees. The
    institution row has a column of each field; ``Change`` markers say how a change takes effect."""

    contact_phone: Annotated[str | None, Change.MINOR] = None
    documents: Annotated[dict[str, str], Change.KEY]


# Changes of these fields need a decision; changes of the others apply at once.
KEY_FIELDS = fields_marked(FilingRecord, Change.KEY)
MINOR_FIELDS = fields_marked(FilingRecord, Change.MINOR)


class InstitutionCreate(FilingRecord, RequestModel):
    """A filing as submitted: the profile's fields (a new one is asked for as declared there), some
    held to stricter input rules here. The district may be given by name; the total is computed."""

    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)

    uscc: str = Field(description="统一社会信用代码 (GB 32100, 18 characters with check character)")
    name: Name = Field(description="机构名称")
    organiser_type: OrganiserType
    service_types: ServiceTypes = Field(min_length=1, description="full_day 全日托 | half_day 半日托 | …")
    # resolved to the district's code by the filing service, which names the field in its errors
    district_code: str = Field(
        validation_alias="district", min_length=1, max_length=20, description="区: code (440106) or name (天河区)"
    )
    street_code: str = Field(min_length=1, max_length=20, description="街道/镇 statistical division code")
    address: Address
    latitude: Latitude
    longitude: Longitude
    premises_area_m2: float = Field(gt=0, le=100_000)
    classes: list[ClassIn] = Field(min_length=1, max_length=60)  # type: ignore[assignment]
    # the sum of the classes: never given (as if the field did not exist), never dumped
    total_slots: SkipJsonSchema[int | None] = Field(default=None, exclude=True)  # type: ignore[assignment]
    puhui_slots: int = Field(ge=0, le=100_000, description="普惠 slots, at most the total")
    monthly_fee_yuan: int = Field(ge=0, le=100_000)
    contact_phone: Phone | None = None
    documents: dict[DocumentKind, Sha256] = Field(  # type: ignore[assignment]
        description="material kind -> SHA-256 returned by POST /v1/documents; food_licence when meals are served"
    )

    @field_validator("total_slots")
    @classmethod
    def _not_given(cls, value: object) -> None:
        raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        try:
            return validate_uscc(value)
        except IdentifierError as exc:
            raise PydanticCustomError(exc.code, exc.message_zh) from exc


def _as_changes(filing: type[BaseModel]) -> type[BaseModel]:
    """The fields of ``filing`` that a change may give, each optional but held to the same rules
    when given: those with a ``Change`` marker, by the name the request uses (``district``)."""
    changeable = fields_marked(FilingRecord, Change.KEY) | fields_marked(FilingRecord, Change.MINOR)
    fields: dict[str, Any] = {}
    for name, info in filing.model_fields.items():
        if name not in changeable or info.exclude:
            continue
        rules: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        given_as = info.validation_alias if isinstance(info.validation_alias, str) else name
        fields[given_as] = (rules | None, Field(default=None, description=info.description))
    return create_model(f"{filing.__name__}Changes", __base__=RequestModel, **fields)


class InstitutionChangeIn(_as_changes(InstitutionCreate)):  # type: ignore[misc]
    """A change (变更): only the fields that change. Key fields need a decision; minor ones apply at once."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DecisionIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["file", "return", "reject"] = Field(
        description="file 予以备案 | return 退回补正 | reject 不予备案"
    )
    # PublicText: the reason travels in the decision's event to the agencies granted it (no ID or
    # mobile number typed into it)
    reason: Annotated[PublicText, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="required for return and reject"
    )


class DeregistrationIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # PublicText: the reason travels in institution.deregistered.v1 to the agencies granted it
    reason: Annotated[PublicText, StringConstraints(min_length=2, max_length=1000)]


STATUS_ZH = {
    "submitted": "已提交待审核",
    "filed": "已备案",
    "suspended": "暂停收托",
    "returned": "退回补正",
    "rejected": "不予备案",
    "deregistered": "已注销",
}


class ClassOut(ClassPlan):
    model_config = ConfigDict(extra="ignore")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def class_type_zh(self) -> str:
        return CLASS_TYPE_ZH[self.class_type]


class PendingChangeOut(BaseModel):
    change_id: UUID
    changes: dict[str, Any]
    requested_at: datetime
    decision_due: date
    decision_due_provisional: bool


class InstitutionOut(FilingRecord):
    """An institution as filed, read from its row (``model_validate(row, from_attributes=True)``)."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    id: UUID
    classes: list[ClassOut]  # type: ignore[assignment]
    contact_phone: str | None
    status: str
    submission: int
    submitted_at: datetime
    decision_due: date | None
    decision_due_provisional: bool
    filed_at: datetime | None
    deregistered_at: datetime | None
    pending_change: PendingChangeOut | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def operating_model_zh(self) -> str:
        return OPERATING_MODEL_ZH[self.operating_model]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def district_name(self) -> str:
        return districts()[self.district_code].name

    @computed_field  # type: ignore[prop-decorator]
    @property
    def street_name(self) -> str:
        return streets()[self.street_code].name

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_zh(self) -> str:
        return STATUS_ZH[self.status]


class ChangeResultOut(BaseModel):
    applied_fields: list[str] = Field(description="minor fields, in force now")
    pending_change: PendingChangeOut | None = Field(description="key fields awaiting a decision")
    institution: InstitutionOut


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    total: int
    page: int
    page_size: int


class DocumentOut(BaseModel):
    sha256: str
    size_bytes: int
    media_type: str
