"""Request and response bodies of plans and draws."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.inspection.common import District
from services.inspection.reference import checklist
from shared.events.filing import OperatingModel
from shared.text import DisplayName, PublicText, RequestModel

GradeKey = Literal["A", "B", "C", "D", "ungraded"]
Ratio = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4, allow_inf_nan=False)]


class PlanCreate(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: DisplayName = Field(min_length=2, max_length=100, description="e.g. 2026年第一季度天河区托育机构双随机抽查")
    districts: list[District] = Field(min_length=1, max_length=11, description="districts in scope: codes or names")
    operating_models: list[OperatingModel] = Field(
        default_factory=list, max_length=7, description="operating models in scope; empty = all"
    )
    sampling_ratios: dict[GradeKey, Ratio] | None = Field(
        default=None, description="sampling ratio per credit grade (0–1, ≤4 decimals); missing grades use defaults"
    )
    team_size: int | None = Field(default=None, ge=2, le=10, description="inspectors per team (≥2)")
    window_start: date
    window_end: date
    checklist_items: list[str] | None = Field(
        default=None, min_length=1, max_length=200, description="checklist item codes; default: the whole checklist"
    )
    publication_working_days: int | None = Field(default=None, ge=1, le=120)

    @field_validator("districts")
    @classmethod
    def _districts(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("operating_models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("checklist_items")
    @classmethod
    def _items(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = checklist()
        for code in value:
            if code not in known:
                raise PydanticCustomError("unknown_checklist_item", f"检查事项代码“{code[:30]}”不在随机抽查事项清单中")
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_values", "检查事项代码不能重复")
        return value


class PlanOut(BaseModel):
    id: UUID
    name: str
    status: Literal["draft", "committed", "drawn"]
    districts: list[str]
    operating_models: list[str]
    sampling_ratios: dict[str, str]
    team_size: int
    window_start: date
    window_end: date
    checklist_items: list[str]
    publication_working_days: int
    created_at: datetime
    commitment: str | None
    institutions_hash: str | None
    inspectors_hash: str | None
    committed_at: datetime | None
    drawn_at: datetime | None


class DrawIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    witness_value: PublicText = Field(
        max_length=500,
        description="the independent witness's value (e.g. a lottery number or a public beacon), used verbatim",
    )

    @field_validator("witness_value")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("witness_empty", "见证值不能为空")
        return value


class DrawRecordOut(BaseModel):
    """Everything needed to recompute the draw (see docs/draw.md and tools/verify_draw.py)."""

    plan_id: UUID
    status: Literal["committed", "drawn"]
    algorithm: str
    parameters: dict[str, Any]
    institutions: list[dict[str, Any]]
    institutions_hash: str
    inspectors: list[dict[str, Any]]
    inspectors_hash: str
    commitment: str
    committed_at: datetime
    server_seed: str | None = Field(description="revealed only after the draw")
    witness_value: str | None
    draw_seed: str | None
    result: dict[str, Any] | None
    drawn_at: datetime | None
    tasks: list[dict[str, Any]] = Field(default_factory=list, description="task ids created per institution")
