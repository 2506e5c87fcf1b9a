from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CreditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore", env_ignore_empty=True)

    service_name: str = "credit"
    port: int = 8003

    # The policy version in force until an officer activates another (services/credit/policies/).
    default_policy_version: str = Field(default="v1", pattern=r"^v[0-9]+$")
    # Empty = the policies shipped with the service.
    policy_dir: str | None = None
    # How often every subject is re-evaluated, so entries expire and grades recover without events.
    reevaluate_interval_seconds: float = Field(default=3600, gt=0)

    # Separation of duties (shared/duties.py: each rule with its reason; on unless switched off).
    sod_repair_decider_not_applicant: bool = True
    sod_repair_evidence_uploaded: bool = True
    sod_repair_after_rectification: bool = True
    # Repair evidence documents (POST /v1/credit/entries/{entry_id}/evidence).
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    evidence_media_types: list[str] = Field(default_factory=lambda: ["application/pdf", "image/jpeg", "image/png"])
