from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


def _default_ratios() -> dict[str, float]:
    # Higher risk, more checks (国市监信发〔2022〕6号: A "无事不扰", D "大幅提高抽查比例").
    return {"A": 0.05, "B": 0.10, "C": 0.30, "D": 1.00, "ungraded": 0.20}


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
