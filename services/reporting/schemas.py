from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class LedgerEntryOut(BaseModel):
    index: int
    event_id: str
    event_source: str
    event_type: str
    subject: str
    event_time: datetime
    recorded_at: datetime
    leaf_hash: str = Field(description="hex SHA-256(0x00 || leaf), RFC 6962 leaf hash")
    event: dict[str, Any] = Field(description="the CloudEvent that is the leaf")


class LedgerPage(BaseModel):
    entries: list[LedgerEntryOut]
    next_cursor: int = Field(description="pass as ?after= to continue; equals the last index returned")
    tree_size: int
