from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.inspection.beacon import QUICKNET, check_public_key
from shared.settings import ServiceSettings


def _default_ratios() -> dict[str, float]:
    # Higher risk, more checks (国市监信发〔2022〕6号: A "无事不扰", D "大幅提高抽查比例").
    return {"A": 0.05, "B": 0.10, "C": 0.30, "D": 1.00, "ungraded": 0.20}


TEST_REVEAL_DELAY_SECONDS = 2.0


class InspectionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INSPECTION_", extra="ignore", env_ignore_empty=True)

    service_name: str = "inspection"
    port: int = 8002

    # Default sampling ratio per credit grade ("ungraded" = new or not yet graded institutions).
    sampling_ratios: dict[str, float] = Field(default_factory=_default_ratios)
    default_team_size: int = Field(default=2, ge=2, le=10)
    # 一公开: results are published within this many Chinese working days of submission.
    publication_working_days: int = Field(default=20, ge=1, le=120)
    # A check-in further than this from the institution's filed location is flagged far_from_site.
    checkin_radius_m: float = Field(default=500.0, gt=0)
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    sweep_interval_seconds: float = Field(default=600, gt=0)

    # --- the draw's outside witnesses (docs/draw.md §1.1, algorithm v3) ------------------------------
    # Observers (监督员) reveal their values no earlier than commit + this delay, and the draw waits
    # for it: the server cannot try witness values, nor see them before the lists are frozen.
    # Production refuses less than one hour; the demo platform may shorten it (and says so). In the
    # test environment it defaults to TEST_REVEAL_DELAY_SECONDS, so every platform a test suite starts
    # (in process or as real processes) can run the demo city; a test of the rule sets it explicitly.
    draw_reveal_delay_seconds: float = Field(default=86400, ge=0)
    # The rule for a withheld reveal, fixed in advance: until reveal time + this grace period the draw
    # waits for every observer; after it, it proceeds without those who have not revealed and the
    # record names them as withheld (at least one revealed value is always required).
    draw_withheld_grace_seconds: float = Field(default=86400, ge=0)
    # Observers a plan needs at commit (each an independent organisation).
    draw_min_observers: int = Field(default=2, ge=0, le=20)
    # The public randomness beacon a plan may name at its commit as a further witness (docs/draw.md
    # §1.2): a drand chain of the unchained G1 scheme as its operators publish it (default quicknet).
    # A round's signature is accepted only if it verifies against this public key.
    draw_beacon_chain_hash: str = Field(default=QUICKNET.chain_hash, pattern=r"^[0-9a-f]{64}$")
    draw_beacon_public_key: str = Field(default=QUICKNET.public_key, pattern=r"^[0-9a-f]{192}$")
    # bounded so a round's time stays a representable date (≤ 2100-01-01) and a round comes at least hourly
    draw_beacon_genesis_time: int = Field(default=QUICKNET.genesis_time, ge=0, le=4102444800)
    draw_beacon_period_seconds: int = Field(default=QUICKNET.period_seconds, ge=1, le=3600)

    @field_validator("draw_beacon_public_key")
    @classmethod
    def _beacon_key_on_the_curve(cls, public_key: str) -> str:
        # A mistyped key would otherwise surface only at the first draw with a beacon, as a server
        # error; the published quicknet key is known good and skips the (slow to import) check.
        if public_key != QUICKNET.public_key:
            check_public_key(public_key)
        return public_key

    @model_validator(mode="after")
    def _reveal_delay_in_production(self) -> InspectionSettings:
        if self.environment == "test" and "draw_reveal_delay_seconds" not in self.model_fields_set:
            self.draw_reveal_delay_seconds = TEST_REVEAL_DELAY_SECONDS
        if self.environment == "production" and self.draw_reveal_delay_seconds < 3600:
            raise ValueError("production refuses INSPECTION_DRAW_REVEAL_DELAY_SECONDS below 3600")
        if self.environment == "production" and self.draw_min_observers < 2:
            raise ValueError("production refuses INSPECTION_DRAW_MIN_OBSERVERS below 2")
        return self

    # --- complaints (投诉): abuse limits of the public endpoints (token buckets in the database) -----
    # per client IP: a burst of `complaint_ip_burst`, refilled at `complaint_ip_per_hour` an hour
    complaint_ip_burst: int = Field(default=5, ge=1)
    complaint_ip_per_hour: float = Field(default=10.0, gt=0)
    # every client together (a distributed flood): burst and hourly refill
    complaint_global_burst: int = Field(default=200, ge=1)
    complaint_global_per_hour: float = Field(default=600.0, gt=0)
    # receipt look-ups (GET by receipt code) per client IP: guessing codes is bounded by this
    receipt_lookup_ip_burst: int = Field(default=30, ge=1)
    receipt_lookup_ip_per_hour: float = Field(default=120.0, gt=0)
    # The client address comes from shared.edge.client_ip: X-Forwarded-For only from the proxies in
    # INSPECTION_TRUSTED_PROXIES, read from the right.

    # --- separation of duties (shared/duties.py: each rule with its reason; on unless switched off) ----
    sod_reviewer_not_on_team: bool = True

    # --- quality assessment (质量评估) ---------------------------------------------------------------
    quality_scheme_version: str = "wst821-v1"
