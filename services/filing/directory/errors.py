"""Errors of the public directory (托育地图)."""

from __future__ import annotations

from shared.errors import InvalidInput, NotFound


class PublicInstitutionNotFound(NotFound):
    """Unknown, or not (or no longer) filed: the public cannot tell the two apart."""

    code = "institution_not_found"
    message_zh = "未找到该托育机构，或该机构尚未备案"


class StreetNotInDistrict(InvalidInput):
    code = "street_not_in_district"


class RadiusWithoutNear(InvalidInput):
    code = "radius_without_near"
    message_zh = "指定搜索半径 radius_km 时必须同时提供位置 near（纬度,经度）"

    def __init__(self) -> None:
        super().__init__(field="radius_km")
