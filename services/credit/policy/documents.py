"""The scoring policy as versioned data: ``services/credit/policies/<version>.yaml``.

Every version found is loaded and validated when the service starts (a broken document stops the
start, not a later request) and kept: grades are re-derivable under any version. No scoring number
lives in code; the code only knows the rule ids that events map to (``REQUIRED_RULES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.grades import Grade

ListName = Literal["serious_dishonesty", "industry_ban"]
SubjectKind = Literal["institution", "person"]

POLICY_DIR = Path(__file__).parent.parent / "policies"

# The rule ids the consumers map events onto; every policy version must define them all.
VIOLATION_RULES = {s: f"violation.{s}" for s in ("minor", "general", "serious", "critical")}
CHILD_ABUSE_RULE = "violation.child_abuse"
PERSON_CHILD_ABUSE_RULE = "person.child_abuse"
UNRECTIFIED_RULE = "violation.unrectified"
RECTIFIED_RULE = "violation.rectified"
REPORT_OVERDUE_RULE = "annual_report.overdue"
REPORT_ON_TIME_RULE = "annual_report.on_time"
CLEAN_INSPECTION_RULE = "inspection.clean"
# Optional rules (not in REQUIRED_RULES: a version without them simply scores assessments 0, see
# consumers.on_quality_assessed); every shipped version defines them today.
QUALITY_EXCELLENT_RULE = "quality.onsite_excellent"
QUALITY_FAILED_RULE = "quality.onsite_failed"
REQUIRED_RULES = frozenset(
    {
        *VIOLATION_RULES.values(),
        CHILD_ABUSE_RULE,
        PERSON_CHILD_ABUSE_RULE,
        UNRECTIFIED_RULE,
        RECTIFIED_RULE,
        REPORT_OVERDUE_RULE,
        REPORT_ON_TIME_RULE,
        CLEAN_INSPECTION_RULE,
    }
)
CHILD_ABUSE_RULES = frozenset({CHILD_ABUSE_RULE, PERSON_CHILD_ABUSE_RULE})


class PolicyError(ValueError):
    """A policy document is missing or invalid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GradeThreshold(_Model):
    grade: Grade
    min_score: int
    title_zh: str = Field(min_length=1)


class Rule(_Model):
    title_zh: str = Field(min_length=1)
    points: int
    cap_points: int | None = Field(default=None, ge=0, description="most points (absolute) the rule adds in total")
    counts_for_days: int | None = Field(ge=1, description="null = counts for ever")
    repairable: bool
    min_days_before_repair: int = Field(ge=0)
    forces_lowest_grade: bool = False
    lists: tuple[ListName, ...] = ()
    applies_to: tuple[SubjectKind, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=1)
    # An entry caused by a violation is repaired only after the violation's rectification was verified
    # (shared/duties.py ``credit.repair_after_rectification``), unless its rule gives here the legal
    # basis for deciding without it.
    repair_without_rectification: str | None = Field(
        default=None, min_length=1, description="legal basis for repairing before the rectification is closed"
    )

    def counts_until(self, effective_from: datetime) -> datetime | None:
        return None if self.counts_for_days is None else effective_from + timedelta(days=self.counts_for_days)

    def repairable_from(self, effective_from: datetime) -> datetime:
        return effective_from + timedelta(days=self.min_days_before_repair)


class ListDefinition(_Model):
    title_zh: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)


class Measure(_Model):
    id: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)


class Policy(_Model):
    version: str = Field(pattern=r"^v[0-9]+$")
    title_zh: str = Field(min_length=1)
    published_on: date
    base_score: int
    min_score: int
    grades: tuple[GradeThreshold, ...] = Field(min_length=1)
    lowest_grade: Grade
    lowest_grade_title_zh: str = Field(min_length=1)
    rules: dict[str, Rule]
    lists: dict[ListName, ListDefinition]
    measures: dict[Grade, tuple[Measure, ...]]

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        scores = [g.min_score for g in self.grades]
        if scores != sorted(scores, reverse=True) or len(set(scores)) != len(scores):
            raise ValueError("grades must be listed best first with strictly decreasing min_score")
        names = [g.grade for g in self.grades] + [self.lowest_grade]
        if len(set(names)) != len(names):
            raise ValueError("each grade appears once (the lowest grade has no threshold)")
        missing = REQUIRED_RULES - set(self.rules)
        if missing:
            raise ValueError(f"rules missing: {sorted(missing)}")
        for rule_id in CHILD_ABUSE_RULES:
            if self.rules[rule_id].repairable:
                raise ValueError(f"{rule_id}: child abuse is never repairable")
        for rule_id, rule in self.rules.items():
            unknown = set(rule.lists) - set(self.lists)
            if unknown:
                raise ValueError(f"{rule_id}: lists not defined: {sorted(unknown)}")
            if rule.cap_points is not None and rule.points == 0:
                raise ValueError(f"{rule_id}: a cap needs non-zero points")
        missing_measures = set(names) - set(self.measures)
        if missing_measures:
            raise ValueError(f"measures missing for grades {sorted(missing_measures)}")
        return self

    def grade_for(self, score: int) -> Grade:
        for threshold in self.grades:
            if score >= threshold.min_score:
                return threshold.grade
        return self.lowest_grade

    def grade_title(self, grade: str) -> str:
        for threshold in self.grades:
            if threshold.grade == grade:
                return threshold.title_zh
        return self.lowest_grade_title_zh


class PolicyRegistry:
    """Every policy version, by version id."""

    def __init__(self, policies: dict[str, Policy]) -> None:
        if not policies:
            raise PolicyError("no policy versions found")
        self.policies = policies

    def get(self, version: str) -> Policy | None:
        return self.policies.get(version)

    def versions(self) -> list[str]:
        return sorted(self.policies, key=lambda v: int(v[1:]))


def load_policy_file(path: Path) -> Policy:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        policy = Policy.model_validate(document)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise PolicyError(f"{path.name}: {exc}") from exc
    if policy.version != path.stem:
        raise PolicyError(f"{path.name}: version {policy.version!r} does not match the file name")
    return policy


def load_registry(directory: Path = POLICY_DIR) -> PolicyRegistry:
    return PolicyRegistry({p.stem: load_policy_file(p) for p in sorted(directory.glob("v*.yaml"))})


@lru_cache(maxsize=4)
def default_registry(directory: str = str(POLICY_DIR)) -> PolicyRegistry:
    return load_registry(Path(directory))


def policy_at(default: Policy, activations: Sequence[tuple[datetime, Policy]], moment: datetime) -> Policy:
    """The version in force at ``moment`` (activations sorted by time; the last one at or before)."""
    policy = default
    for activated_at, activated in activations:
        if activated_at > moment:
            break
        policy = activated
    return policy
