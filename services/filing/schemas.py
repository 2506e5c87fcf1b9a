"""Request and response bodies of the filing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from shared.identifiers import IdentifierError, validate_uscc


class InstitutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uscc: str = Field(description="统一社会信用代码 (GB 32100, 18 characters with check character)")
    name: Annotated[str, StringConstraints(min_length=2, max_length=100)] = Field(description="机构名称")
    district: str = Field(description="区: code (440106) or name (天河区)", min_length=1, max_length=20)
    street_code: str = Field(description="街道/镇 statistical division code (9 digits)", min_length=1, max_length=20)

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        try:
            return validate_uscc(value)
        except IdentifierError as exc:
            raise PydanticCustomError(exc.code, exc.message_zh) from exc


class InstitutionOut(BaseModel):
    id: UUID
    uscc: str
    name: str
    district_code: str
    district_name: str
    street_code: str
    street_name: str
    status: str
    submitted_at: datetime
