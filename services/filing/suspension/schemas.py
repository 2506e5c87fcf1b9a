from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.text import FreeText, RequestModel

Outcome = Literal["resume", "deregister"]
OUTCOME_ZH: dict[str, str] = {"resume": "恢复收托", "deregister": "注销备案"}
STATUS_ZH = "暂停收托"
# what ends a suspension, in the public's words
UNTIL_ZH = "待备案机关作出恢复收托或注销备案的决定"


class ProposalIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome = Field(description="resume (恢复收托) or deregister (注销备案)")
    reason: Annotated[FreeText, StringConstraints(min_length=2, max_length=1000)]


class ConfirmationIn(RequestModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome = Field(description="must equal the proposal's outcome (what the confirmer read)")


class SuspensionCaseOut(BaseModel):
    """One confirmed child-abuse case of the suspension: ids and dates, nothing about the persons."""

    violation_id: UUID
    task_id: UUID
    confirmed_at: datetime


class SuspensionOut(BaseModel):
    """The institution's latest suspension, open (``decided_at`` null) or decided."""

    id: UUID
    institution_id: UUID
    institution_status: str = Field(description="the institution's filing status now")
    status_zh: str = STATUS_ZH
    reason: str
    legal_basis: str
    violation_id: UUID
    task_id: UUID
    suspended_at: datetime
    case_count: int = Field(description="confirmed child-abuse cases recorded against this suspension")
    cases: list[SuspensionCaseOut] = Field(description="every case, the one that began it first")
    proposed_outcome: Outcome | None
    proposed_outcome_zh: str | None
    proposal_reason: str | None = Field(
        description="the proposer's own words, for the officers only: the events carry a fixed phrase"
    )
    proposed_by: str | None
    proposed_at: datetime | None
    outcome: Outcome | None
    outcome_zh: str | None
    decided_by: str | None
    decided_at: datetime | None
