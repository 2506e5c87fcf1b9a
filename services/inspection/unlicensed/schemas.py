from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from shared.identifiers import IdentifierError, validate_uscc
from shared.reference import GZ_LATITUDE, GZ_LONGITUDE
from shared.text import DisplayName, FreeText, RequestModel


class SiteUpdateIn(RequestModel):
    """What was learnt about the operator; only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    operator_name: DisplayName | None = Field(default=None, min_length=2, max_length=100)
    uscc: str | None = Field(default=None, max_length=40)
    address: FreeText | None = Field(default=None, min_length=4, max_length=200)
    latitude: float | None = Field(default=None, ge=GZ_LATITUDE[0], le=GZ_LATITUDE[1])
    longitude: float | None = Field(default=None, ge=GZ_LONGITUDE[0], le=GZ_LONGITUDE[1])

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_uscc(value)
        except IdentifierError as exc:
            raise PydanticCustomError(exc.code, exc.message_zh) from None


class StepIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    step_id: UUID | None = Field(default=None, description="an existing open step to keep (and edit)")
    title_zh: FreeText = Field(min_length=2, max_length=200)
    due_on: date
    note: FreeText | None = Field(default=None, max_length=1000)


class PlanIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[StepIn] = Field(min_length=1, max_length=30)

    @field_validator("steps")
    @classmethod
    def _distinct(cls, value: list[StepIn]) -> list[StepIn]:
        ids = [s.step_id for s in value if s.step_id is not None]
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("duplicate_values", "同一步骤不能出现两次")
        return value


class CompleteStepIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: FreeText | None = Field(default=None, max_length=1000)


class CloseDownIn(RequestModel):
    """The enforcement record (执法记录) of closing the operator down."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision_no: FreeText = Field(min_length=2, max_length=100, description="处罚/取缔决定书文号")
    authority: FreeText = Field(min_length=2, max_length=100)
    decided_on: date
    measures: list[FreeText] = Field(min_length=1, max_length=20)
    summary_zh: FreeText = Field(min_length=2, max_length=2000)

    def record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StepOut(BaseModel):
    id: UUID
    position: int
    title_zh: str
    due_on: date
    note: str | None
    completed_by: str | None
    completed_at: datetime | None
    overdue: bool


class CaseOut(BaseModel):
    id: UUID
    status: str
    status_zh: str
    source: str
    complaint_id: UUID | None
    violation_id: UUID | None
    district_code: str
    district_name: str
    street_code: str | None
    address: str | None
    operator_name: str | None
    uscc: str | None
    latitude: float | None
    longitude: float | None
    institution_id: UUID | None
    enforcement: dict[str, Any] | None
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    overdue_steps: int
    steps: list[StepOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    page: int
    page_size: int
    total: int
