"""Request and response bodies of the pools API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from services.inspection.common import District
from shared.text import DisplayName, FreeText, RequestModel


class InspectorCreate(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = Field(min_length=1, max_length=200, description="the `sub` of the inspector's login token")
    name: DisplayName = Field(min_length=2, max_length=50)
    agency: FreeText = Field(min_length=2, max_length=100, description="执法部门, e.g. 天河区卫生健康局")
    badge_number: Annotated[str, StringConstraints(min_length=4, max_length=32)] = Field(description="执法证号")
    districts: list[District] = Field(min_length=1, max_length=11, description="districts covered: codes or names")
    active: bool = True

    @field_validator("badge_number")
    @classmethod
    def _badge(cls, value: str) -> str:
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in value):
            raise PydanticCustomError("badge_number_format", "执法证号只能包含字母、数字和连字符")
        return value.upper()

    @field_validator("districts")
    @classmethod
    def _districts(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class InspectorUpdate(RequestModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    districts: list[District] | None = Field(default=None, min_length=1, max_length=11)

    @field_validator("districts")
    @classmethod
    def _districts(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


class InspectorOut(BaseModel):
    id: UUID
    subject: str
    name: str
    agency: str
    badge_number: str
    districts: list[str]
    district_names: list[str]
    active: bool
    created_at: datetime
    flagged_task_ids: list[UUID] | None = Field(
        default=None,
        description="PATCH deactivating the inspector: their open tasks, now flagged needs_reassignment "
        "(GET /v1/tasks?needs_reassignment=true)",
    )


class InspectorPage(BaseModel):
    items: list[InspectorOut]
    total: int


class ConflictIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    institution_id: UUID
    reason: FreeText = Field(min_length=2, max_length=500, description="回避事由, e.g. 近亲属在该机构任职")


class ConflictOut(BaseModel):
    id: UUID
    inspector_id: UUID
    institution_id: UUID
    reason: str
    declared_by: str
    declared_at: datetime
    removed_from_task_ids: list[UUID] = Field(
        default_factory=list,
        description="open tasks of the institution the inspector was on, taken off at once (needs_reassignment)",
    )


class PoolInstitutionOut(BaseModel):
    institution_id: UUID
    name: str
    operating_model: str
    district_code: str
    district_name: str
    street_code: str
    address: str
    credit_grade: str | None = Field(description="null: 未评级")


class PoolPage(BaseModel):
    items: list[PoolInstitutionOut]
    total: int
