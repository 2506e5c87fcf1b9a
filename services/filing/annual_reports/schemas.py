"""Request and response bodies of the annual-report (年报) API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from shared.events.filing import ClassType
from shared.text import FreeText, RequestModel

CLASS_TYPE_ZH: dict[str, str] = {"infant": "乳儿班", "toddler": "托小班", "older": "托大班", "mixed": "混合班"}

# Upper bounds keep every number inside PostgreSQL's integer range (no input may become a 500) and
# far above anything a single institution could honestly report.
MAX_COUNT = 10_000
MAX_FEE_YUAN = 1_000_000

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
FeeYuan = Annotated[int, Field(ge=0, le=MAX_FEE_YUAN)]
Description = Annotated[FreeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class EnrolmentIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    class_type: ClassType = Field(description="infant 乳儿班 | toddler 托小班 | older 托大班 | mixed 混合班")
    children: Count = Field(description="children enrolled in classes of this type")


class StaffCounts(RequestModel):
    model_config = ConfigDict(extra="forbid")

    carers: Count = Field(description="保育人员")
    health: Count = Field(description="保健人员")
    principal: Count = Field(description="负责人")
    other: Count = Field(description="其他人员")


class IncidentsIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    count: Count = Field(description="safety incidents (安全事故) during the year")
    descriptions: list[Description] = Field(default_factory=list, max_length=100)

    @field_validator("descriptions")
    @classmethod
    def _not_more_than_count(cls, value: list[str], info: ValidationInfo) -> list[str]:
        count = info.data.get("count")
        if count is not None and len(value) > count:
            raise PydanticCustomError(
                "incident_descriptions_exceed_count",
                f"事故说明有{len(value)}条，多于填报的事故数{count}起",
            )
        return value


class FeesIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    monthly_fee_yuan: FeeYuan = Field(description="ordinary monthly fee, yuan")
    puhui_monthly_fee_yuan: FeeYuan | None = Field(default=None, description="普惠 (affordable) monthly fee, yuan")

    @field_validator("puhui_monthly_fee_yuan")
    @classmethod
    def _puhui_not_above_ordinary(cls, value: int | None, info: ValidationInfo) -> int | None:
        ordinary = info.data.get("monthly_fee_yuan")
        if value is not None and ordinary is not None and value > ordinary:
            raise PydanticCustomError(
                "puhui_fee_above_fee",
                f"普惠托位月收费{value}元不应高于普通月收费{ordinary}元",
            )
        return value


class AnnualReportIn(RequestModel):
    """One year's report. Every class type at most once; children may be 0."""

    model_config = ConfigDict(extra="forbid")

    enrolment: list[EnrolmentIn] = Field(max_length=4)
    staff: StaffCounts
    incidents: IncidentsIn
    fees: FeesIn

    @field_validator("enrolment")
    @classmethod
    def _each_class_type_once(cls, value: list[EnrolmentIn]) -> list[EnrolmentIn]:
        seen: set[str] = set()
        for item in value:
            if item.class_type in seen:
                raise PydanticCustomError(
                    "duplicate_class_type",
                    f"班型“{CLASS_TYPE_ZH[item.class_type]}”重复填报，每种班型只填一行",
                )
            seen.add(item.class_type)
        return value


class EnrolmentOut(BaseModel):
    class_type: ClassType
    children: int


class IncidentsOut(BaseModel):
    count: int
    descriptions: list[str]


class FeesOut(BaseModel):
    monthly_fee_yuan: int
    puhui_monthly_fee_yuan: int | None


class StaffOut(BaseModel):
    carers: int
    health: int
    principal: int
    other: int


class AnnualReportOut(BaseModel):
    id: UUID
    institution_id: UUID
    year: int
    district_code: str
    enrolment: list[EnrolmentOut]
    enrolled_children: int
    staff: StaffOut
    staff_count: int
    incidents: IncidentsOut
    fees: FeesOut
    due_date: date
    on_time: bool = Field(description="submitted (Beijing date) on or before due_date")
    overdue_marked: bool = Field(description="the overdue sweep had already marked this report missing")
    submitted_by: str
    submitted_at: datetime


class CompletionCounts(BaseModel):
    expected: int = Field(description="filed by the end of the year and not deregistered before the due date")
    submitted: int = Field(description="of the expected, how many have reported (on time or late)")
    on_time: int
    late: int
    overdue: int = Field(description="of the expected, marked overdue by the sweep and still without a report")
    completion_rate: float | None = Field(description="submitted / expected, 4 decimals; null when nothing expected")


class DistrictCompletion(CompletionCounts):
    district_code: str
    district_name: str


class CompletionOut(BaseModel):
    year: int
    due_date: date
    as_of: date = Field(description="today's Beijing date")
    districts: list[DistrictCompletion]
    total: CompletionCounts
