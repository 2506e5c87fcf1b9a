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
