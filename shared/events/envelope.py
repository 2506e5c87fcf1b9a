"""The CloudEvents 1.0 envelope (structured JSON mode) every event on the wire travels in."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

CONTENT_TYPE = "application/cloudevents+json"
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")


class CloudEvent(BaseModel):
    """Required here: specversion, id, source, type, time, subject, datacontenttype, data.

    CloudEvents itself makes time/subject/datacontenttype optional; this platform requires them
    (subject = the aggregate id that is also the Kafka key). Extension attributes are allowed if
    their names follow the spec (lowercase a-z0-9, at most 20 characters).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def model_post_init(self, __context: Any) -> None:
        if not self.model_extra:
            return
        for name in self.model_extra:
            if not _EXTENSION_NAME.match(name):
                raise ValueError(f"invalid CloudEvents extension attribute name: {name!r}")

    def to_json(self) -> str:
        body = self.model_dump(mode="json")
        body["time"] = self.time.isoformat().replace("+00:00", "Z")
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
