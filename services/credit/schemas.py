"""Request and response bodies of the credit API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from services.credit.models import CreditRepair
from shared.grades import Grade
from shared.text import FreeText, PublicText, RequestModel

Sha256 = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExplainedLine(_Out):
    status: Literal["base", "counting", "capped", "expired", "repaired", "not_yet_effective", "unknown_rule", "floor"]
    points: int = Field(description="points this line adds to the score now (the lines sum to the score)")
    nominal_points: int = Field(description="points the rule gives when the entry counts in full")
    explanation: str
    entry_id: str | None = None
    rule_id: str | None = None
    rule_title: str | None = None
    legal_basis: str | None = None
    source_event_id: str | None = None
    source_event_type: str | None = None
    detail: str | None = None
    effective_from: datetime | None = None
    counts_until: datetime | None = Field(default=None, description="null for an entry that never ends")
    repaired_at: datetime | None = None
    recorded_under_policy: str | None = None


class MeasureOut(_Out):
    id: str
    title: str
    legal_basis: str


class ListMembershipOut(_Out):
    list_name: Literal["serious_dishonesty", "industry_ban"]
    list_title: str
    reason: str
    legal_basis: str
    entered_at: datetime
    until: datetime | None = Field(description="null = no end (e.g. a life-long industry ban)")


class GradeHistoryOut(_Out):
    policy_version: str
    grade: str
    previous_grade: str | None
    score: int
    graded_at: datetime
    reason: str


class RepairOut(_Out):
    id: UUID
    entry_id: UUID
    subject_kind: Literal["institution", "person"]
    subject_id: str
    status: Literal["pending", "approved", "refused"]
    evidence_sha256: list[str]
    commitment: str
    applied_by: str
    applied_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class EvidenceOut(_Out):
    entry_id: UUID
    sha256: str
    media_type: str
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime


class CreditRecordOut(_Out):
    subject_kind: Literal["institution", "person"]
    subject_id: str
    display_name: str | None
    district_code: str | None
    opened_at: datetime
    opened_by_event_id: str
    deregistered_at: datetime | None
    as_of: datetime
    policy_version: str
    score: int = Field(description="the sum of `lines[].points`")
    grade: Grade | None = Field(description="null until the first entry (未评级)")
    grade_title: str
    forced_lowest_grade: bool = Field(description="an entry (e.g. child abuse) puts the subject at the lowest grade")
    published_grade: str | None = Field(description="the grade last published (InstitutionGradedV1)")
    published_at: datetime | None
    lines: list[ExplainedLine]
    measures: list[MeasureOut] = Field(description="supervision measures at this grade, each with its legal basis")
    lists: list[ListMembershipOut]
    grade_history: list[GradeHistoryOut]
    repairs: list[RepairOut]
    banned: bool = Field(description="persons: on the industry-ban list (从业禁止)")


class PublicCreditOut(_Out):
    institution_id: str
    grade: str | None
    graded_at: datetime | None
    policy_version: str | None
    grade_title: str | None = Field(default=None, description="the grade in words, as the policy names it")
    measures: list[MeasureOut] = Field(
        default_factory=list,
        description="what the published grade means for the institution's supervision: the measures the "
        "grading policy version (services/credit/policies) attaches to it, in words with their legal basis",
    )
    lists: list[Literal["serious_dishonesty", "industry_ban"]]


class ListMemberOut(_Out):
    subject_kind: Literal["institution", "person"]
    subject_id: str
    display_name: str | None
    reason: str
    legal_basis: str
    entered_at: datetime
    until: datetime | None


class ListOut(_Out):
    list_name: Literal["serious_dishonesty", "industry_ban"]
    title: str
    legal_basis: str
    items: list[ListMemberOut]
    total: int


class RepairIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entry_id: UUID = Field(description="the credit entry to repair")
    evidence_sha256: list[Sha256] = Field(
        min_length=1, max_length=20, description="SHA-256 of each evidence document (整改材料、履行义务证明)"
    )
    commitment: Annotated[PublicText, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="信用承诺书 text (a public credit commitment is required for repair)"
    )

    @field_validator("evidence_sha256")
    @classmethod
    def _hex(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            v = value.lower()
            if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
                raise PydanticCustomError("sha256_invalid", "证明材料摘要应为64位十六进制SHA-256值")
            out.append(v)
        if len(set(out)) != len(out):
            raise PydanticCustomError("sha256_duplicate", "证明材料摘要重复")
        return out


class RepairDecisionIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "refuse"]
    reason: Annotated[FreeText, StringConstraints(min_length=1, max_length=2000)] = Field(description="决定理由")


class PolicyOut(_Out):
    version: str
    title: str
    published_on: date
    active: bool
    base_score: int
    grades: dict[str, int] = Field(description="grade -> minimum score; the lowest grade has none")
    lowest_grade: str


class PolicyListOut(_Out):
    active_version: str
    items: list[PolicyOut]


class ActivationOut(_Out):
    version: str
    previous_version: str
    grades_changed: int


def repair_out(r: CreditRepair) -> RepairOut:
    return RepairOut(
        id=r.id,
        entry_id=r.entry_id,
        subject_kind="institution" if r.subject_kind == "institution" else "person",
        subject_id=r.subject_id,
        status=r.status,
        evidence_sha256=list(r.evidence_sha256),
        commitment=r.commitment_zh,
        applied_by=r.applied_by,
        applied_at=r.applied_at,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        decision_reason=r.decision_reason,
    )
