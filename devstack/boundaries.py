"""Guangzhou's district boundaries for the demo city: the demo places its synthetic institutions
inside their district's real boundary (shared/reference_data/gz_district_boundaries.geojson,
docs/map.md), as the 托育地图 draws it.

Plain even-odd ray casting (no GIS dependency at run time); tests/web/test_map.py checks the
result independently with shapely.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

BOUNDARIES = Path(__file__).resolve().parents[1] / "shared" / "reference_data" / "gz_district_boundaries.geojson"
_STEPS = 40

Ring = list[tuple[float, float]]  # (lng, lat) pairs, as GeoJSON writes them


@cache
def _districts() -> dict[str, tuple[list[list[Ring]], tuple[float, float]]]:
    """district code -> (polygons as lists of rings, an interior point (lat, lng))."""
    document: dict[str, Any] = json.loads(BOUNDARIES.read_text(encoding="utf-8"))
    out: dict[str, tuple[list[list[Ring]], tuple[float, float]]] = {}
    for feature in document["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        lng, lat = feature["properties"]["label_point"]
        out[feature["properties"]["adcode"]] = (
            [[[(float(x), float(y)) for x, y in ring] for ring in polygon] for polygon in polygons],
            (float(lat), float(lng)),
        )
    return out


def contains(district_code: str, lat: float, lng: float) -> bool:
    """Whether the point lies inside the district's boundary (holes and islands included)."""
    inside = False
    for polygon in _districts()[district_code][0]:
        for ring in polygon:
            j = len(ring) - 1
            for i in range(len(ring)):
                (xi, yi), (xj, yj) = ring[i], ring[j]
                if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / (yj - yi) + xi:
                    inside = not inside
                j = i
    return inside


def inside_district(district_code: str, lat: float, lng: float) -> tuple[float, float]:
    """The point itself if it is inside the district; otherwise the first point inside on the way
    from it to the district's interior point, one step further in (so that rounding the
    coordinates to 6 decimals cannot put it back on the border). Deterministic: no randomness."""
    if contains(district_code, lat, lng):
        return lat, lng
    anchor_lat, anchor_lng = _districts()[district_code][1]

    def towards(step: int) -> tuple[float, float]:
        t = min(step, _STEPS) / _STEPS
        return lat + (anchor_lat - lat) * t, lng + (anchor_lng - lng) * t

    for step in range(1, _STEPS + 1):
        if contains(district_code, *towards(step)):
            further = towards(step + 1)
            return further if contains(district_code, *further) else towards(step)
    return anchor_lat, anchor_lng
