"""Events of the filing service (登记备案), on ``childcare.filing.events``, keyed by institution id.

Payloads carry no resident ID number: a person appears only as ``person_ref`` (keyed hash) plus the
masked number.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.catalogue import EventData, event
from shared.topics import FILING_EVENTS

OperatingModel = Literal["public", "public_private", "private", "employer", "kindergarten_class", "community", "family"]
ServiceType = Literal["full_day", "half_day", "hourly", "temporary"]
ClassType = Literal["infant", "toddler", "older", "mixed"]
StaffRole = Literal["principal", "carer", "health", "security", "cook", "other"]

# Chinese labels of the codes above, for every service that shows them to people.
OPERATING_MODEL_ZH: dict[str, str] = {
    "public": "公办",
    "public_private": "公建民营",
    "private": "民办",
    "employer": "用人单位办",
    "kindergarten_class": "幼儿园托班",
    "community": "社区托育点",
    "family": "家庭托育点",
}
SERVICE_TYPE_ZH: dict[str, str] = {
    "full_day": "全日托",
    "half_day": "半日托",
    "hourly": "计时托",
    "temporary": "临时托",
}
CLASS_TYPE_ZH: dict[str, str] = {"infant": "乳儿班", "toddler": "托小班", "older": "托大班", "mixed": "混合班"}


class ClassPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    class_type: ClassType
    size: int = Field(ge=1)


class Change(enum.Enum):
    """How a change (变更) of a filed institution's field takes effect, declared on the field itself
    (``Annotated[..., Change.KEY]``) so that a new field says so where it is defined. A field
    without a marker (the unified social credit code) cannot be changed."""

    KEY = "key"  # needs the district bureau's decision; the filed value stays in force meanwhile
    MINOR = "minor"  # applies at once


def fields_marked(model: type[BaseModel], marker: object) -> frozenset[str]:
    """The fields of ``model`` (inherited ones included) declared with ``marker`` in their metadata."""
    return frozenset(name for name, info in model.model_fields.items() if marker in info.metadata)


# The one definition of the profile: filing's request body extends it, its row is built from it, and
# the events and the answers are read from that row (``model_validate(row, from_attributes=True)``).
class InstitutionProfile(BaseModel):
    """The public facts of a filed institution (no personal data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uscc: str = Field(min_length=18, max_length=18)
    name: Annotated[str, Change.MINOR]
    organiser_type: Annotated[str, Change.KEY]
    operating_model: Annotated[OperatingModel, Change.KEY] = Field(
        description=" | ".join(f"{k} {v}" for k, v in OPERATING_MODEL_ZH.items())
    )
    service_types: Annotated[list[ServiceType], Change.MINOR]
    district_code: Annotated[str, Change.KEY] = Field(pattern=r"^\d{6}$")
    street_code: Annotated[str, Change.KEY] = Field(pattern=r"^\d{9}$")
    address: Annotated[str, Change.KEY]
    latitude: Annotated[float, Change.KEY]
    longitude: Annotated[float, Change.KEY]
    premises_area_m2: Annotated[float, Change.KEY]
    classes: Annotated[list[ClassPlan], Change.KEY]
    total_slots: Annotated[int, Change.KEY] = Field(description="the sum of the classes' sizes")
    puhui_slots: Annotated[int, Change.KEY]
    monthly_fee_yuan: Annotated[int, Change.MINOR]
    meals: Annotated[bool, Change.KEY]
    outdoor_area_m2: Annotated[float | None, Change.KEY] = Field(
        default=None, ge=0, le=100_000, description="户外活动场地面积 (outdoor play area), m²; null: not stated"
    )
    puhui_monthly_fee_yuan: Annotated[int | None, Change.MINOR] = Field(
        default=None,
        ge=0,
        le=100_000,
        description="普惠托位月收费 (affordable places' monthly fee), yuan; null: not stated",
    )
    opening_hours: Annotated[str | None, Change.MINOR] = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="服务时间 on working days, HH:MM-HH:MM (Beijing time); null: not stated",
    )
    # The institution's own number for families, published by its choice; contact_phone (the
    # filing's contact for the bureau) stays private.
    public_phone: Annotated[str | None, Change.MINOR] = Field(
        default=None, pattern=r"^[0-9+\-() ]{7,20}$", description="公开咨询电话 the institution publishes; null: none"
    )


@event("cn.gov.gz.childcare.filing.institution.submitted.v1", topic=FILING_EVENTS)
class InstitutionSubmittedV1(EventData):
    """An institution's filing was submitted (or resubmitted after a return) to its district bureau."""

    institution_id: UUID
    uscc: str = Field(min_length=18, max_length=18, description="unified social credit code")
    name: str = Field(min_length=1)
    district_code: str = Field(pattern=r"^\d{6}$")
    street_code: str = Field(pattern=r"^\d{9}$")
    submitted_at: datetime
    profile: InstitutionProfile | None = None
    submission: int = Field(default=1, ge=1, description="1 for the first submission, +1 per resubmission")
    decision_due: date | None = None
    decision_due_provisional: bool = False


@event("cn.gov.gz.childcare.filing.institution.filed.v1", topic=FILING_EVENTS)
class InstitutionFiledV1(EventData):
    """The district bureau accepted the filing (备案): the institution is public and inspectable."""

    institution_id: UUID
    profile: InstitutionProfile
    decided_by: str
    decided_at: datetime
    reason: str | None = None


@event("cn.gov.gz.childcare.filing.institution.returned.v1", topic=FILING_EVENTS)
class InstitutionReturnedV1(EventData):
    """The filing was returned for correction; a resubmission restarts the decision clock."""

    institution_id: UUID
    decided_by: str
    decided_at: datetime
    reason: str


@event("cn.gov.gz.childcare.filing.institution.rejected.v1", topic=FILING_EVENTS)
class InstitutionRejectedV1(EventData):
    institution_id: UUID
    decided_by: str
    decided_at: datetime
    reason: str


@event("cn.gov.gz.childcare.filing.institution.change_requested.v1", topic=FILING_EVENTS)
class InstitutionChangeRequestedV1(EventData):
    """A change (变更) touching key fields awaits a decision; the filed values stay in force meanwhile."""

    institution_id: UUID
    change_id: UUID
    changed_fields: list[str]
    requested_at: datetime
    decision_due: date
    decision_due_provisional: bool = False


@event("cn.gov.gz.childcare.filing.institution.changed.v1", topic=FILING_EVENTS)
class InstitutionChangedV1(EventData):
    """A change took effect: minor fields at once, key fields after approval."""

    institution_id: UUID
    change_id: UUID | None = None
    changed_fields: list[str]
    profile: InstitutionProfile
    changed_at: datetime


@event("cn.gov.gz.childcare.filing.institution.change_refused.v1", topic=FILING_EVENTS)
class InstitutionChangeRefusedV1(EventData):
    institution_id: UUID
    change_id: UUID
    outcome: Literal["returned", "rejected"]
    reason: str
    decided_by: str
    decided_at: datetime


@event("cn.gov.gz.childcare.filing.institution.deregistered.v1", topic=FILING_EVENTS)
class InstitutionDeregisteredV1(EventData):
    """注销: the institution leaves the directory and the inspection pool."""

    institution_id: UUID
    reason: str
    deregistered_at: datetime


@event("cn.gov.gz.childcare.filing.institution.suspended.v1", topic=FILING_EVENTS)
class InstitutionSuspendedV1(EventData):
    """暂停收托: a confirmed child-abuse case (inspection's ``violation.confirmed.v1`` with
    ``child_abuse``) suspended a filed institution until the filing officers decide (resume or
    deregister). No personal data: the violation is named by its id and catalogue title only."""

    institution_id: UUID
    suspended_at: datetime
    reason: str = Field(min_length=1, description="暂停收托 reason as shown to the public")
    legal_basis: str = Field(min_length=1, description="the confirmed violation's legal basis (violation catalogue)")
    violation_id: UUID
    task_id: UUID


@event("cn.gov.gz.childcare.filing.institution.resumed.v1", topic=FILING_EVENTS)
class InstitutionResumedV1(EventData):
    """恢复收托: a suspension ended by the filing officers' decision to resume (proposed by one
    officer, confirmed by another); the institution is ``filed`` again. A decision to deregister
    instead is ``institution.deregistered.v1``."""

    institution_id: UUID
    reason: str = Field(min_length=1)
    proposed_by: str
    decided_by: str
    resumed_at: datetime


class Certificate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    number: str
    expires_on: date | None = None


@event("cn.gov.gz.childcare.filing.staff.hired.v1", topic=FILING_EVENTS)
class StaffHiredV1(EventData):
    """A person joined an institution's roster. Never the ID number: person_ref + masked form only."""

    institution_id: UUID
    staff_id: UUID
    person_ref: str = Field(pattern=r"^[0-9a-f]{64}$")
    id_masked: str
    name: str
    role: StaffRole
    hired_on: date
    certificates: list[Certificate] = Field(default_factory=list)
    training_hours: float = Field(default=0.0, ge=0, description="recorded training hours at hire")
    health_certificate_expires_on: date | None = None


@event("cn.gov.gz.childcare.filing.staff.left.v1", topic=FILING_EVENTS)
class StaffLeftV1(EventData):
    institution_id: UUID
    staff_id: UUID
    person_ref: str = Field(pattern=r"^[0-9a-f]{64}$")
    left_on: date
    reason: str | None = None


class StaffingShortfall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="e.g. carer_ratio, no_principal, no_health_staff")
    detail: str
    required: int | None = None
    actual: int | None = None


@event("cn.gov.gz.childcare.filing.staffing.shortfall_flagged.v1", topic=FILING_EVENTS)
class StaffingShortfallFlaggedV1(EventData):
    """The roster no longer meets the ratios / required roles for the filed classes."""

    institution_id: UUID
    shortfalls: list[StaffingShortfall] = Field(min_length=1)
    flagged_at: datetime


@event("cn.gov.gz.childcare.filing.staffing.shortfall_cleared.v1", topic=FILING_EVENTS)
class StaffingShortfallClearedV1(EventData):
    institution_id: UUID
    cleared_at: datetime


@event("cn.gov.gz.childcare.filing.annual_report.submitted.v1", topic=FILING_EVENTS)
class AnnualReportSubmittedV1(EventData):
    institution_id: UUID
    year: int = Field(ge=2000, le=2100)
    submitted_at: datetime
    on_time: bool
    enrolled_children: int = Field(ge=0)
    staff_count: int = Field(ge=0)
    incidents: int = Field(ge=0)


@event("cn.gov.gz.childcare.filing.annual_report.overdue.v1", topic=FILING_EVENTS)
class AnnualReportOverdueV1(EventData):
    """The year's report was not in by its due date (swept once per institution and year)."""

    institution_id: UUID
    year: int = Field(ge=2000, le=2100)
    due_date: date
    district_code: str = Field(pattern=r"^\d{6}$")
