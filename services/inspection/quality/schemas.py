from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.text import FreeText, RequestModel


class AnswerIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=20)
    score: float = Field(ge=0, le=1000, allow_inf_nan=False)
    veto_met: bool | None = Field(default=None, description="veto (基础) items only: is the requirement met")
    note: FreeText | None = Field(default=None, max_length=1000)


class AssessmentIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    institution_id: UUID
    kind: Literal["self", "onsite"]
    scheme_version: str = Field(min_length=1, max_length=40, description="the version the form was filled under")
    items: list[AnswerIn] = Field(min_length=1, max_length=500)


class AssessmentOut(BaseModel):
    id: UUID
    institution_id: UUID
    district_code: str
    kind: str
    scheme_version: str
    scheme_sha256: str
    score: float
    max_score: float
    grade: str
    grade_zh: str
    veto_failed: bool
    veto_failed_items: list[str]
    assessed_by: str
    assessed_at: datetime
    reassess_by: date
    report: dict[str, Any]


class AssessmentList(BaseModel):
    items: list[AssessmentOut]
    latest_onsite: AssessmentOut | None


class SchemeItemOut(BaseModel):
    code: str
    title_zh: str
    points: float
    veto: bool


class SchemeDimensionOut(BaseModel):
    code: str
    title_zh: str
    points: float
    items: list[SchemeItemOut]


class GradeCutOut(BaseModel):
    grade: str
    min_score: float | None
    title_zh: str


class SchemeOut(BaseModel):
    version: str
    active: bool
    sha256: str
    title_zh: str
    standard: str
    max_score: float
    items_confirmed: bool
    veto_list_confirmed: bool
    grades_confirmed: bool
    note_zh: str
    grades: list[GradeCutOut]
    veto_grade: str
    reassess_months: dict[str, int]
    dimensions: list[SchemeDimensionOut]


class SchemeList(BaseModel):
    active: str
    items: list[SchemeOut]
