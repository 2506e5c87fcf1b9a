"""Request and response bodies of plans and draws."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.inspection.beacon import SIGNATURE_HEX
from services.inspection.common import District
from services.inspection.reference import checklist
from shared.events.filing import OperatingModel
from shared.grades import Grade
from shared.text import DisplayName, PublicName, PublicText, RequestModel

GradeKey = Literal[Grade, "ungraded"]
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

    witness_value: PublicText | None = Field(
        default=None,
        max_length=500,
        description=(
            "only for plans committed under gz-childcare-draw/v1 or v2: the independent witness's value, used "
            "verbatim. v3 plans take no witness value: the seed comes from their observers' reveals"
        ),
    )

    beacon_signature: str | None = Field(
        default=None,
        pattern=SIGNATURE_HEX,
        description=(
            "only for plans that named a beacon round at their commit: the round's BLS signature as published by "
            "the beacon (drand: `signature` of GET /<chain_hash>/public/<round>), 96 lowercase hex digits; accepted "
            "only if it verifies against the beacon's public key (docs/draw.md §1.2)"
        ),
    )

    @field_validator("witness_value")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise PydanticCustomError("witness_empty", "见证值不能为空")
        return value


HEX64 = r"^[0-9a-f]{64}$"


class BeaconIn(RequestModel):
    """A public randomness beacon round named at the commit (docs/draw.md §1.2)."""

    model_config = ConfigDict(extra="forbid")

    chain_hash: str = Field(pattern=HEX64, description="the beacon chain (must be the configured one; drand quicknet)")
    round: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,  # ~95 years of 3 s rounds: keeps the round's time a date
        description=(
            "the round; its time must be strictly after the plan's reveal time and the round no later than the "
            "first round at or after the end of its grace period, which is the default; reveals close at its time"
        ),
    )


class CommitIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    beacon: BeaconIn | None = Field(
        default=None, description="optional: a public randomness beacon round as a further witness of the draw"
    )


class ObserverIn(RequestModel):
    """An independent observer's commitment, registered before the commit (docs/draw.md §1.1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation: PublicName = Field(
        min_length=2,
        max_length=100,
        description="the observer's organisation (e.g. 区纪委监委派驻纪检监察组, 公证处); never a person's name",
    )
    commitment: str = Field(pattern=HEX64, description="sha256(UTF-8 value || 32 salt bytes), 64 lowercase hex digits")


class RevealIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    value: PublicText = Field(min_length=1, max_length=200, description="the committed value, verbatim (published)")
    salt: str = Field(pattern=HEX64, description="the 32 salt bytes as 64 lowercase hex digits")

    @field_validator("value")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("witness_empty", "见证值不能为空")
        return value


class ObserverOut(BaseModel):
    """Public: an observer by organisation, its commitment, and (after the reveal) its value and salt."""

    id: UUID
    organisation: str
    commitment: str
    registered_at: datetime
    status: Literal["committed", "revealed", "withheld"]
    value: str | None
    salt: str | None
    revealed_at: datetime | None


class BeaconOut(BaseModel):
    """A beacon round fixed at the commit; its signature and randomness once the draw accepted them."""

    chain_hash: str
    scheme: str = Field(description="bls-unchained-g1-rfc9380: BLS signature on G1 of sha256(round, 8 bytes BE)")
    public_key: str = Field(description="the beacon's published public key (G2, compressed), the signature's check")
    genesis_time: int = Field(description="Unix seconds of round 1")
    period_seconds: int
    round: int
    round_time: datetime = Field(description="genesis_time + (round − 1) × period_seconds; not before the reveal")
    signature: str | None = Field(description="the round's BLS signature, verified at the draw")
    randomness: str | None = Field(description="sha256(signature bytes), part of the draw seed")


class WitnessOut(BaseModel):
    """v3: the draw's outside witnesses and the rule for a withheld reveal, fixed at commit."""

    reveal_not_before: datetime | None = Field(description="no reveal and no draw before this time")
    withheld_after: datetime | None = Field(
        description="until then the draw waits for every observer; after it, it proceeds without those who have not "
        "revealed, named in the record as withheld"
    )
    observers: list[ObserverOut]
    witness_digest: str | None = Field(description="sha256 of the canonical JSON of [{id, value}] revealed, by id")
    beacon: BeaconOut | None = Field(
        default=None, description="the public randomness beacon round named at the commit, if any (docs/draw.md §1.2)"
    )


class PublicPlanOut(BaseModel):
    """一公开: a committed plan as anyone may read it (no personal data: no officer's name or account)."""

    id: UUID
    name: str
    status: Literal["committed", "drawn"]
    districts: list[str]
    operating_models: list[str]
    sampling_ratios: dict[str, str]
    team_size: int
    window_start: date
    window_end: date
    algorithm: str
    commitment: str
    institutions_hash: str
    inspectors_hash: str
    committed_at: datetime
    witness: WitnessOut | None
    drawn_at: datetime | None


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
    witness_value: str | None = Field(description="v1/v2 plans: the single witness value; null for v3")
    witness: WitnessOut | None = Field(default=None, description="v3 plans: observers, reveals and the withheld rule")
    draw_seed: str | None
    result: dict[str, Any] | None
    drawn_at: datetime | None
    tasks: list[dict[str, Any]] = Field(default_factory=list, description="task ids created per institution")
