"""Complaint request and response bodies. The public ones carry nothing but the complaint's own
status: no institution facts, no other complaint, no person."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.inspection.common import District
from services.inspection.tasks.schemas import TargetedIn
from shared.text import FreeText, PublicName, PublicText, RequestModel

Category = Literal["safety", "abuse", "hygiene_food", "staffing", "fees", "unlicensed", "other"]
CATEGORY_ZH = {
    "safety": "安全隐患",
    "abuse": "虐待、伤害婴幼儿",
    "hygiene_food": "卫生与膳食",
    "staffing": "人员资质与配比",
    "fees": "收费与合同",
    "unlicensed": "无证照或未备案经营",
    "other": "其他",
}
Action = Literal["targeted_inspection", "referral", "close", "open_unlicensed_case"]
RECEIPT = re.compile(r"^[A-Z2-7]{10}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise PydanticCustomError("control_characters", "不能包含控制字符")
    return value


class ComplaintIn(RequestModel):
    """About a filed institution (``institution_id``) or a place (``address`` with ``district``,
    optionally ``street_code`` and the name it trades under). ``contact`` is optional (anonymous
    allowed); it is stored encrypted and never shown back."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    institution_id: UUID | None = None
    district: District | None = Field(default=None, description="code or name; required with address")
    street_code: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    address: PublicText | None = Field(default=None, min_length=4, max_length=200)
    operator_name: PublicName | None = Field(default=None, min_length=2, max_length=100)
    category: Category
    description: PublicText = Field(min_length=10, max_length=1000)
    contact: str | None = Field(default=None, min_length=5, max_length=100, description="phone or e-mail")

    _plain = field_validator("address", "operator_name", "description", "contact")(_no_control)


class ReceiptOut(BaseModel):
    receipt: str = Field(description="keep it: the only way to follow the complaint")
    status: str
    status_zh: str
    received_on: date


class PublicStatusOut(BaseModel):
    receipt: str
    status: Literal["received", "investigating", "referred", "closed", "concluded"]
    status_zh: str
    received_on: date
    outcome_zh: str | None


class TriageIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Action
    reason: FreeText = Field(min_length=2, max_length=1000, description="internal; never shown to the public")
    public_reply: PublicText | None = Field(default=None, min_length=2, max_length=500)
    referred_to: FreeText | None = Field(default=None, min_length=2, max_length=100, description="referral: the agency")
    # targeted_inspection: the team and deadline, as for POST /v1/targeted-inspections
    inspector_ids: list[UUID] | None = Field(default=None, min_length=2, max_length=10)
    due_by: date | None = None
    checklist_items: list[str] | None = Field(default=None, min_length=1, max_length=200)

    # the same checks as POST /v1/targeted-inspections
    _distinct = field_validator("inspector_ids")(lambda v: v if v is None else TargetedIn._distinct(v))
    _items = field_validator("checklist_items")(lambda v: TargetedIn._items(v))


class ComplaintOut(BaseModel):
    """What a supervisor sees (contact only as ``has_contact``; the number is in the detail view)."""

    id: UUID
    status: str
    category: str
    category_zh: str
    about: Literal["institution", "address"]
    institution_id: UUID | None
    institution_name: str | None
    district_code: str
    district_name: str
    street_code: str | None
    address: str | None
    operator_name: str | None
    description: str
    has_contact: bool
    received_at: datetime
    action: str | None
    triage_reason: str | None
    public_reply: str | None
    referred_to: str | None
    task_id: UUID | None
    case_id: UUID | None
    triaged_by: str | None
    triaged_at: datetime | None


class ComplaintDetailOut(ComplaintOut):
    contact: str | None = Field(description="decrypted for the supervisor who must call back; never public")


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    page: int
    page_size: int
    total: int


class DistrictStats(BaseModel):
    district_code: str
    district_name: str
    received: int
    awaiting_triage: int
    investigating: int
    referred: int
    closed: int
    by_category: dict[str, int]
    open_unlicensed_cases: int


class ComplaintStatsOut(BaseModel):
    districts: list[DistrictStats]
    total_received: int
    total_open_unlicensed_cases: int
