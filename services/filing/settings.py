from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class FilingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FILING_", extra="ignore", env_ignore_empty=True)

    service_name: str = "filing"
    port: int = 8001

    # 备案办法 Art. 9: a decision within 5 working days of a complete submission
    decision_working_days: int = Field(default=5, ge=1)
    # For years chinesecalendar does not know yet: statutory holidays and make-up working days to use
    # until the library is updated (deadlines computed with them are flagged provisional).
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)

    document_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    document_media_types: list[str] = Field(default_factory=lambda: ["application/pdf", "image/jpeg", "image/png"])

    # The annual report (年报) for year Y is due on this month-day of year Y+1.
    annual_report_due_month: int = Field(default=3, ge=1, le=12)
    annual_report_due_day: int = Field(default=31, ge=1, le=31)
    sweep_interval_seconds: float = Field(default=600, gt=0)
    # 混合班: the national rules give no carer ratio for mixed classes; 1:5 is common practice.
    staffing_mixed_class_ratio: int = Field(default=5, ge=1)

    # Separation of duties (shared/duties.py: each rule with its reason; on unless switched off).
    sod_decider_not_submitter: bool = True
    sod_suspension_confirmer_not_proposer: bool = True
