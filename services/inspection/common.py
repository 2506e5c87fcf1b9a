"""Small helpers shared by the inspection service's routers and schemas."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from services.inspection.errors import IdempotencyKeyMissing
from services.inspection.settings import InspectionSettings
from shared.reference import district_by_name_or_code, districts
from shared.workdays import WorkdayCalendar

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
EARTH_RADIUS_M = 6_371_008.8


def district_code(value: str) -> str:
    """A district given by code or name, as its 6-digit code (pydantic validator body)."""
    district = district_by_name_or_code(value)
    if district is None:
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise PydanticCustomError("unknown_district", f"区“{shown}”不是广州市的行政区，请使用11个区的名称或代码")
    return district.code


District = Annotated[str, AfterValidator(district_code)]


def district_name(code: str) -> str:
    d = districts().get(code)
    return d.name if d else code


def settings_of(request: Request) -> InspectionSettings:
    settings = request.app.state.settings
    return settings if isinstance(settings, InspectionSettings) else InspectionSettings()


def calendar_of(settings: InspectionSettings) -> WorkdayCalendar:
    return WorkdayCalendar(settings.extra_holidays, settings.extra_workdays)


def now_of(request: Request) -> datetime:
    """The current time; tests replace ``app.state.clock`` to move time without waiting."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(a, 1.0)))


async def _idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=True)] = None,
) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyMissing()
    key = key.strip()
    if len(key) > 200:
        raise IdempotencyKeyMissing("Idempotency-Key 不能超过200个字符", code="idempotency_key_too_long")
    return key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]


def jsonable(model: Any) -> Any:
    return model.model_dump(mode="json")
