"""Request and response bodies of the staff roster API.

Responses carry the resident ID number masked (``id_masked``); only the authorised detail view
(``StaffDetailOut.id_number``) may carry it in clear.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from services.filing.staff.models import ROLE_ZH
from shared.events.filing import StaffRole
from shared.identifiers import IdentifierError, validate_resident_id
from shared.text import DisplayName, FreeText, RequestModel

PersonName = Annotated[DisplayName, StringConstraints(min_length=1, max_length=50)]


class CertificateIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Annotated[FreeText, StringConstraints(min_length=1, max_length=50)] = Field(
        description="e.g. 保育师证, 育婴员证"
    )
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    expires_on: date | None = Field(default=None, description="null = does not expire")


class TrainingIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hours: float = Field(gt=0, le=1000)
    date: date
    topic: Annotated[FreeText, StringConstraints(min_length=1, max_length=200)]


class StaffHireIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName = Field(description="姓名")
    id_number: str = Field(
        description="公民身份号码 (GB 11643, 18 characters); stored encrypted, returned masked", max_length=40
    )
    role: StaffRole = Field(description=" | ".join(f"{k} {v}" for k, v in ROLE_ZH.items()))
    certificates: list[CertificateIn] = Field(default_factory=list, max_length=20, description="资格证书")
    health_certificate_expires_on: date = Field(description="健康证明有效期至")
    training: list[TrainingIn] = Field(default_factory=list, max_length=200, description="培训记录")
    hired_on: date = Field(description="入职日期")

    @field_validator("id_number")
    @classmethod
    def _valid_resident_id(cls, value: str) -> str:
        try:
            return validate_resident_id(value)
        except IdentifierError as exc:
            # The message never contains the number (shared.identifiers guarantees it).
            raise PydanticCustomError(exc.code, exc.message_zh) from None


class StaffRosterIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    items: list[StaffHireIn] = Field(
        min_length=1, max_length=100, description="the people to register, all or none (登记从业人员名册)"
    )


class CertificateOut(BaseModel):
    kind: str
    number: str
    expires_on: date | None


class TrainingOut(BaseModel):
    hours: float
    date: date
    topic: str


class StaffOut(BaseModel):
    id: UUID
    institution_id: UUID
    name: str
    id_masked: str = Field(description="e.g. 440103********1234")
    person_ref: str = Field(description="keyed pseudonymous reference of the person (credit records use it)")
    role: str
    role_zh: str
    certificates: list[CertificateOut]
    health_certificate_expires_on: date
    training: list[TrainingOut]
    training_hours: float
    hired_on: date
    left_on: date | None
    left_reason: str | None
    active: bool


class StaffDetailOut(StaffOut):
    id_number: str | None = Field(
        description="the clear ID number: only for a filing officer of the institution's district, else null"
    )


class StaffPage(BaseModel):
    items: list[StaffOut]
    total: int


class ShortfallOut(BaseModel):
    code: str = Field(description="carer_ratio | no_principal | no_health_staff")
    detail: str
    required: int | None
    actual: int | None


class StaffingOut(BaseModel):
    institution_id: UUID
    compliant: bool
    required_carers: int
    active_carers: int
    active_principals: int
    active_health_staff: int
    carer_ratios: dict[str, int] = Field(description="children per carer by class type (mixed: configurable)")
    shortfalls: list[ShortfallOut]
    evaluated_at: datetime | None = Field(description="when the stored staffing state was last evaluated")
