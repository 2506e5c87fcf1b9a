"""Request and response bodies of tasks, the mobile API, review and publication."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.inspection.common import Sha256
from services.inspection.reference import checklist
from shared.text import FreeText, PublicText, RequestModel

FindingResult = Literal["pass", "fail", "not_applicable"]
PersonRef = str


class CheckInIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class CheckInOut(BaseModel):
    id: UUID
    task_id: UUID
    inspector_id: UUID
    distance_m: float
    far_from_site: bool
    checked_in_at: datetime


class FindingIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item_code: str = Field(min_length=1, max_length=40)
    result: FindingResult
    note: FreeText | None = Field(default=None, max_length=2000)
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=50)


class FindingsIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FindingIn] = Field(min_length=1, max_length=200)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[FindingIn]) -> list[FindingIn]:
        codes = [i.item_code for i in items]
        if len(set(codes)) != len(codes):
            raise PydanticCustomError("duplicate_values", "同一检查事项在一次提交中只能出现一次")
        return items


class FindingOut(BaseModel):
    item_code: str
    result: FindingResult
    note: str | None
    evidence_sha256: list[str]
    updated_by: UUID
    updated_at: datetime


class FindingsOut(BaseModel):
    task_id: UUID
    items: list[FindingOut]
    answered: int
    total: int


class ViolationIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=60, description="code from the violation catalogue")
    description: FreeText = Field(min_length=2, max_length=2000)
    person_ref: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="staff member involved (from the task's staff list)"
    )
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=50)


class ViolationOut(BaseModel):
    id: UUID
    task_id: UUID
    institution_id: UUID
    code: str
    title_zh: str
    severity: str
    legal_basis: str
    description: str
    person_ref: str | None
    evidence_sha256: list[str]
    status: str
    recorded_at: datetime
    rectification_due: date | None


class SubmitIn(RequestModel):
    model_config = ConfigDict(extra="forbid")


class SubmitOut(BaseModel):
    task_id: UUID
    status: str
    signed_by: list[UUID]
    pending_signatures: list[UUID]
    submitted_at: datetime | None
    publication_due: date | None


class MemberOut(BaseModel):
    inspector_id: UUID
    name: str | None
    agency: str | None
    badge_number: str | None
    signed_at: datetime | None
    active: bool | None = Field(default=None, description="false: the inspector was deactivated (no access)")
    removed_at: datetime | None = None
    removed_reason: Literal["conflict_of_interest", "reassigned"] | None = None


class InstitutionFactsOut(BaseModel):
    institution_id: UUID
    name: str
    uscc: str
    operating_model: str
    district_code: str
    district_name: str
    street_code: str
    address: str
    latitude: float
    longitude: float
    total_slots: int | None
    classes: list[dict[str, object]]
    credit_grade: str | None


class StaffOut(BaseModel):
    person_ref: str
    name: str
    role: str
    id_masked: str


class ChecklistItemOut(BaseModel):
    item_code: str
    area: str
    item_zh: str
    basis: str


class SiteOut(BaseModel):
    """The site of an unlicensed-operator case, as recorded on the case (no filing exists)."""

    case_id: UUID
    operator_name: str | None
    district_code: str
    district_name: str
    street_code: str | None
    address: str | None
    latitude: float | None
    longitude: float | None


class TaskSummaryOut(BaseModel):
    id: UUID
    kind: Literal["random", "targeted"]
    plan_id: UUID | None
    status: str
    reason: str | None
    due_by: date
    institution: InstitutionFactsOut | None
    case_id: UUID | None = Field(default=None, description="targeted inspection of an unlicensed case's site")
    site: SiteOut | None = None
    members: list[MemberOut]
    publication_due: date | None
    needs_reassignment: bool = Field(
        default=False,
        description="a member was deactivated or removed for a conflict of interest: the supervisor sets a new "
        "team (PUT /v1/tasks/{task_id}/team); the task cannot be submitted until then",
    )
    removed_members: list[MemberOut] = Field(default_factory=list, description="members taken off the team")


class TaskDetailOut(TaskSummaryOut):
    checklist: list[ChecklistItemOut]
    staff: list[StaffOut]
    findings: list[FindingOut]
    violations: list[ViolationOut]
    checkins: list[CheckInOut]


class TaskList(BaseModel):
    items: list[TaskSummaryOut]
    total: int


class TargetedIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    institution_id: UUID | None = Field(default=None, description="a filed institution; or give case_id")
    case_id: UUID | None = Field(default=None, description="an open unlicensed-operator case (its site)")
    inspector_ids: list[UUID] = Field(min_length=2, max_length=10, description="the team (≥2)")
    reason: Literal["complaint", "follow_up", "referral", "other"]
    reason_detail: FreeText = Field(min_length=2, max_length=1000)
    due_by: date
    checklist_items: list[str] | None = Field(default=None, min_length=1, max_length=200)
    follow_up_of: UUID | None = Field(default=None, description="the violation whose rectification is verified")

    @field_validator("inspector_ids")
    @classmethod
    def _distinct(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_values", "检查组成员不能重复")
        return value

    @field_validator("checklist_items")
    @classmethod
    def _items(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for code in value:
            if code not in checklist():
                raise PydanticCustomError("unknown_checklist_item", f"检查事项代码“{code[:30]}”不在随机抽查事项清单中")
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_values", "检查事项代码不能重复")
        return value


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspector_ids: list[UUID] = Field(min_length=2, max_length=10, description="the new team (≥2)")

    @field_validator("inspector_ids")
    @classmethod
    def _distinct(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_values", "检查组成员不能重复")
        return value


class ReviewIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    dismissed_violation_ids: list[UUID] = Field(default_factory=list, max_length=200)
    summary_zh: PublicText | None = Field(default=None, min_length=2, max_length=2000)
    follow_up_rectified: bool | None = Field(default=None, description="for a follow-up task: was it rectified?")


class PublicFollowUpOut(BaseModel):
    """A published follow-up inspection (复查) of a violation and what it found."""

    task_id: UUID
    inspected_on: date = Field(description="Beijing date")
    rectified: bool = Field(description="the follow-up found the violation rectified (整改到位), which closed it")


class PublicViolationOut(BaseModel):
    """One confirmed violation as published: the catalogue's title and legal basis, never the
    inspector's description (free text), the person concerned or the evidence."""

    code: str
    title_zh: str
    severity: Literal["minor", "general", "serious", "critical"]
    severity_zh: str
    legal_basis: str
    rectification_due: date | None = Field(description="整改期限 (Beijing date)")
    status: Literal["confirmed", "rectification_reported", "closed", "escalated"]
    status_zh: str
    closed_on: date | None = Field(description="Beijing date the follow-up verified the rectification")
    follow_ups: list[PublicFollowUpOut] = Field(description="published follow-up inspections, oldest first")


class FollowUpOfOut(BaseModel):
    """What a follow-up inspection (复查) verified: the violation of an earlier published inspection."""

    task_id: UUID = Field(description="the earlier inspection that found the violation")
    title_zh: str
    rectified: bool


class PublishedResultOut(BaseModel):
    """一公开: no personal data (no inspector, no staff, no descriptions)."""

    task_id: UUID
    institution_id: UUID
    institution_name: str
    district_code: str
    district_name: str
    kind: Literal["random", "targeted"]
    inspection_type: Literal["random", "targeted", "follow_up"] = Field(
        description="random 双随机抽查 | targeted 定向检查 | follow_up 整改复查 (targeted, verifying a rectification)"
    )
    inspection_type_zh: str
    inspected_on: date = Field(description="Beijing date")
    published_at: datetime
    published_on: date = Field(description="the Beijing date of published_at")
    conclusion: Literal["compliant", "rectification_required", "non_compliant"]
    conclusion_zh: str
    violations_by_severity: dict[str, int]
    summary_zh: str
    on_time: bool
    violations: list[PublicViolationOut] = Field(description="confirmed violations (dismissed ones are not shown)")
    follow_up_of: FollowUpOfOut | None = Field(description="only for a follow-up inspection")


class ReviewOut(BaseModel):
    task_id: UUID
    status: str
    confirmed_violation_ids: list[UUID]
    closed_violation_ids: list[UUID]
    result: PublishedResultOut


class PublishedPage(BaseModel):
    items: list[PublishedResultOut]
    page: int
    page_size: int
    total: int


class RectificationIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=50)
