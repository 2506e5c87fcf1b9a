"""Events of the credit service (诚信档案), on ``childcare.credit.events``, keyed by subject id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.events.catalogue import EventData, event
from shared.grades import Grade
from shared.topics import CREDIT_EVENTS


@event("cn.gov.gz.childcare.credit.record.opened.v1", topic=CREDIT_EVENTS)
class CreditRecordOpenedV1(EventData):
    """A credit record (诚信档案) was opened for an institution or a person."""

    subject_kind: Literal["institution", "person"]
    subject_id: str = Field(min_length=1)
    opened_at: datetime
    cause_event_id: str = Field(min_length=1, description="the event that opened the record")


@event("cn.gov.gz.childcare.credit.institution.graded.v1", topic=CREDIT_EVENTS)
class InstitutionGradedV1(EventData):
    """An institution's credit grade changed (from ``previous_grade`` to ``grade``), or was first
    set; key = institution id. This is the issue's "grade changed" event."""

    institution_id: UUID
    grade: Grade
    previous_grade: Grade | None = None
    score: float
    policy_version: str
    graded_at: datetime
    reason: str = ""


@event("cn.gov.gz.childcare.credit.institution.rescored.v1", topic=CREDIT_EVENTS)
class InstitutionRescoredV1(EventData):
    """An institution's score or policy version changed while its grade stayed (a repair, an expiry,
    a new entry or a policy activation within the grade's band); key = institution id.

    ``InstitutionGradedV1`` means "the grade changed" and is published only then; without this event
    a consumer showing the score kept the one of the last grade change (reporting showed 84 after a
    repair that took the record from 84 to 86 inside grade B). ``scored_at`` is when it was published
    and is ordered with ``InstitutionGradedV1.graded_at`` (both the evaluation instant): a consumer
    keeping the newest of either holds credit's current score."""

    institution_id: UUID
    grade: Grade
    score: float
    previous_score: float
    policy_version: str
    scored_at: datetime
    reason: str = ""


@event("cn.gov.gz.childcare.credit.list.entered.v1", topic=CREDIT_EVENTS)
class CreditListEnteredV1(EventData):
    """A subject entered a list: serious_dishonesty (严重失信主体名单) or industry_ban (从业禁止)."""

    list_name: Literal["serious_dishonesty", "industry_ban"]
    subject_kind: Literal["institution", "person"]
    subject_id: str
    reason: str
    legal_basis: str
    entered_at: datetime
    until: date | None = None


@event("cn.gov.gz.childcare.credit.list.left.v1", topic=CREDIT_EVENTS)
class CreditListLeftV1(EventData):
    list_name: Literal["serious_dishonesty", "industry_ban"]
    subject_kind: Literal["institution", "person"]
    subject_id: str
    reason: str
    left_at: datetime


@event("cn.gov.gz.childcare.credit.person.banned.v1", topic=CREDIT_EVENTS)
class PersonBannedV1(EventData):
    """从业禁止: the person may not work in any childcare institution; key = person_ref."""

    person_ref: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str
    legal_basis: str
    banned_at: datetime
    until: date | None = Field(default=None, description="None = for life")
    cause_event_id: str


@event("cn.gov.gz.childcare.credit.person.ban_lifted.v1", topic=CREDIT_EVENTS)
class PersonBanLiftedV1(EventData):
    person_ref: str = Field(pattern=r"^[0-9a-f]{64}$")
    lifted_at: datetime
    reason: str


# --- decisions taken inside the credit service ---------------------------------------------------
# Published so that a replay of the topics into an empty credit database reproduces them: the credit
# consumer reads these three types back from its own topic and applies them idempotently.


@event("cn.gov.gz.childcare.credit.repair.applied.v1", topic=CREDIT_EVENTS)
class CreditRepairAppliedV1(EventData):
    """A credit-repair application (信用修复申请) for one entry; key = subject id."""

    repair_id: UUID
    entry_id: UUID
    subject_kind: Literal["institution", "person"]
    subject_id: str = Field(min_length=1)
    evidence_sha256: list[str] = Field(min_length=1)
    commitment: str = Field(min_length=1, description="the subject's credit commitment (信用承诺)")
    applied_by: str = Field(min_length=1)
    applied_at: datetime


@event("cn.gov.gz.childcare.credit.repair.decided.v1", topic=CREDIT_EVENTS)
class CreditRepairDecidedV1(EventData):
    """A credit repair approved or refused; an approval stops the entry counting from ``decided_at``.
    Key = subject id (the same partition as the application, so it always follows it)."""

    repair_id: UUID
    entry_id: UUID
    subject_kind: Literal["institution", "person"]
    subject_id: str = Field(min_length=1)
    approved: bool
    reason: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    decided_at: datetime


@event("cn.gov.gz.childcare.credit.policy.activated.v1", topic=CREDIT_EVENTS)
class CreditPolicyActivatedV1(EventData):
    """A scoring-policy version was put in force at ``activated_at``; key = the constant ``policy``."""

    version: str = Field(pattern=r"^v[0-9]+$")
    activated_by: str = Field(min_length=1)
    activated_at: datetime
