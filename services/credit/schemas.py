from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class CreditRecordOut(BaseModel):
    subject_kind: Literal["institution", "person"]
    subject_id: str
    display_name: str | None
    district_code: str | None
    opened_at: datetime
    opened_by_event_id: str
