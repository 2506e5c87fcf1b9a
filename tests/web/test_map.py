"""The 托育地图 in headless Chromium against the running demo platform: Leaflet draws the 11
districts' real boundaries and clusters the institutions; a point picked on the map lists the
nearest institutions first, in the API's order with the API's distances; the phone has a list/map
toggle and markers large enough to tap; the map's list works from the keyboard; no base map is
configured, so nothing is requested from outside (the `pages` fixture fails the test otherwise);
axe-core finds nothing serious or critical on the directory page at either size."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from shapely.geometry import Point, shape

from devstack.boundaries import BOUNDARIES
from shared.db import Database
from shared.reference import districts
from tests.support import create_app, settings_for
from tests.web.conftest import WEB, PageFactory, WebPlatform, screenshot_path, wait_for_js

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
STATUS = "document.querySelector('#status').textContent"

# The markers' clusters as the map draws them: the number each one shows, plus single markers.
MARKERS_DRAWN = """(() => {
  const clusters = [...document.querySelectorAll('#map .map-cluster')];
  const singles = document.querySelectorAll('#map .institution-marker').length;
  const inClusters = clusters.reduce((n, c) => n + Number(c.querySelector('[aria-hidden]').textContent), 0);
  return {clusters: clusters.length, singles, total: inClusters + singles};
})()"""

# A pixel of the map showing no marker or cluster (clicking one would zoom or open a popup instead
# of picking the point), spiralling out from the centre.
EMPTY_PIXEL = """(() => {
  const box = document.getElementById('map').getBoundingClientRect();
  const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
  for (let r = 0; r < Math.min(box.width, box.height) / 2 - 20; r += 6) {
    for (let a = 0; a < 360; a += 20) {
      const x = cx + r * Math.cos(a * Math.PI / 180), y = cy + r * Math.sin(a * Math.PI / 180);
      const el = document.elementFromPoint(x, y);
      if (el && el.closest('#map') && !el.closest('.leaflet-marker-icon, .leaflet-control, .leaflet-popup'))
        return {x: x - box.left, y: y - box.top};
    }
  }
  return null;
})()"""


SHOW_MAP = "document.getElementById('views').scrollIntoView()"  # for the pictures
# no zoom or cluster animation under way (Leaflet's and leaflet.markercluster's classes while they run)
SETTLED = "!document.querySelector('#map .leaflet-zoom-anim, #map .leaflet-cluster-anim')"
TIANHE_WIDTH = "document.querySelector('#map path.district-440106').getBoundingClientRect().width"


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await wait_for_js(page, "document.body.dataset.ready", within_ms=30_000)


async def _axe_findings(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now. The script is run by the
    DevTools protocol (page.evaluate), as the pages' CSP allows no script from anywhere but /ui/."""
    if not AXE.exists():
        pytest.fail("web/node_modules/axe-core is missing: run `cd web && npm ci` (./dev bootstrap does)")
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
        "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


async def _districts_drawn(page: Any) -> tuple[int, list[str]]:
    boundaries = await page.locator("#map path.district-boundary").count()
    # textContent: at the city's zoom the small central districts' names are hidden (they would overlap)
    labels = await page.locator("#map .district-label").evaluate_all("els => els.map(e => e.textContent)")
    return boundaries, sorted(labels)


def _copy_to(name: str) -> Path:
    return screenshot_path(name)


async def test_map_draws_the_eleven_districts_and_clusters_the_institutions(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    page = await pages(width=1280, height=800)
    await _open(page, f"{web_platform.pages}/")
    filed = web_platform.institutions_filed
    boundaries, labels = await _districts_drawn(page)
    assert boundaries == 11
    assert labels == sorted(d.name for d in districts().values())
    assert await page.locator("#map .leaflet-tile").count() == 0  # no base map configured: none requested
    assert await page.locator("#map").get_attribute("data-markers") == str(filed)
    drawn = await page.evaluate(MARKERS_DRAWN)
    assert drawn["total"] == filed  # every institution is on the map, one marker or in a cluster
    assert drawn["clusters"] > 0  # the city's view clusters
    assert drawn["singles"] + drawn["clusters"] < filed
    assert await _axe_findings(page) == []
    await page.screenshot(path=_copy_to("map-city.png"), full_page=True)

    # 天河区: the map zooms into its boundary and shows only its institutions
    _, tianhe = web_platform.get("filing", "/v1/public/institutions?district=440106&page_size=100")
    width_before = await page.evaluate(TIANHE_WIDTH)
    await page.get_by_label("所在区", exact=True).select_option(label="天河区")
    await wait_for_js(page, f"document.querySelector('#status').textContent.includes('{tianhe['total']} 家')")
    await wait_for_js(page, f"document.getElementById('map').dataset.markers === '{tianhe['total']}'")
    await wait_for_js(page, f"{TIANHE_WIDTH} > 3 * {width_before}")  # zoomed into its boundary
    # the city's clusters fade out while the district's fade in: count once the animation is over
    await wait_for_js(page, SETTLED)
    await wait_for_js(page, f"{MARKERS_DRAWN}.total === {tianhe['total']}")
    await wait_for_js(page, SETTLED)
    assert (await page.evaluate(MARKERS_DRAWN))["total"] == tianhe["total"]
    await page.evaluate(SHOW_MAP)
    await page.screenshot(path=_copy_to("map-district.png"))


async def test_a_point_picked_on_the_map_lists_the_nearest_first(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages(width=1280, height=800)
    await _open(page, f"{web_platform.pages}/")
    await page.get_by_label("搜索半径", exact=True).select_option(label="20 公里")
    pixel = await page.evaluate(EMPTY_PIXEL)
    assert pixel is not None
    await page.locator("#map").click(position=pixel)
    await wait_for_js(page, "new URL(location.href).searchParams.has('near')")
    await wait_for_js(page, "document.querySelector('#status').textContent.includes('由近到远')")
    query = parse_qs(urlsplit(page.url).query)
    near, radius = query["near"][0], query["radius_km"][0]
    assert radius == "20"
    status, expected = web_platform.get("filing", f"/v1/public/institutions?near={near}&radius_km=20&page_size=100")
    assert status == 200, expected
    assert expected["total"] >= 2, "the picked point has fewer than two institutions within 20 km"
    api_order = [i["id"] for i in expected["items"]][:20]
    shown_order = await page.locator("li.institution").evaluate_all("els => els.map(e => e.dataset.id)")
    assert shown_order == api_order  # the list is the API's order: nearest first
    distances = [i["distance_km"] for i in expected["items"]]
    assert distances == sorted(distances)
    assert distances[0] == min(distances)
    shown = await page.locator("li.institution .badge.distance").all_inner_texts()
    assert shown[0] == (f"距离 {distances[0]:.2f} 公里" if distances[0] < 10 else f"距离 {distances[0]:.1f} 公里")
    assert len(shown) == len(api_order)
    # the search radius and the picked point are drawn
    assert await page.locator("#map path.search-radius").count() == 1
    assert await page.locator("#map .picked-point").count() == 1
    assert f"{expected['total']} 家" in await page.locator("#status").inner_text()
    await wait_for_js(page, SETTLED)
    await page.evaluate(SHOW_MAP)
    await page.screenshot(path=_copy_to("map-picked-point.png"))

    # a smaller radius: the API's subset, still nearest first
    await page.get_by_label("搜索半径", exact=True).select_option(label="2 公里")
    await wait_for_js(page, "new URL(location.href).searchParams.get('radius_km') === '2'")
    _, smaller = web_platform.get("filing", f"/v1/public/institutions?near={near}&radius_km=2&page_size=100")
    await wait_for_js(page, f"{STATUS}.includes('内已备案托育机构 {smaller['total']} 家')")
    assert (
        await page.locator("li.institution").evaluate_all("els => els.map(e => e.dataset.id)")
        == [i["id"] for i in smaller["items"]][:20]
    )


async def test_near_me_uses_the_browsers_position(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages(width=1280, height=800)
    await page.context.grant_permissions(["geolocation"])
    await page.context.set_geolocation({"latitude": 23.1291, "longitude": 113.3240})  # 天河区
    await _open(page, f"{web_platform.pages}/")
    await page.get_by_role("button", name="使用我的位置").click()
    await wait_for_js(page, "document.querySelector('#status').textContent.includes('由近到远')")
    assert parse_qs(urlsplit(page.url).query)["near"] == ["23.129100,113.324000"]
    _, expected = web_platform.get(
        "filing", "/v1/public/institutions?near=23.129100,113.324000&radius_km=5&page_size=100"
    )
    assert (
        await page.locator("li.institution").evaluate_all("els => els.map(e => e.dataset.id)")
        == [i["id"] for i in expected["items"]][:20]
    )
    assert "天河区" in await page.locator("#point-info").inner_text()


async def test_the_maps_list_works_from_the_keyboard(web_platform: WebPlatform, pages: PageFactory) -> None:
    """Tab to an institution's "在地图上查看" and press Enter: the map opens its marker's popup and
    the popup's link has the focus; Enter on a focused marker opens its popup too."""
    page = await pages(width=1280, height=800)
    await _open(page, f"{web_platform.pages}/")
    first = page.locator("li.institution").first
    name = await first.locator("h3").inner_text()
    await first.locator("a").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.classList.contains('show-on-map')")
    await page.keyboard.press("Enter")
    await wait_for_js(page, "document.activeElement && document.activeElement.closest('.leaflet-popup') !== null")
    assert await page.evaluate("document.activeElement.textContent") == name
    # Escape closes the popup; a marker itself is reachable and opens its popup with Enter
    await page.keyboard.press("Escape")
    await wait_for_js(page, "document.querySelector('#map .leaflet-popup') === null")
    marker = page.locator("#map .institution-marker").first
    title = await marker.get_attribute("title")
    await marker.focus()
    await page.keyboard.press("Enter")
    await wait_for_js(page, "document.querySelector('#map .leaflet-popup') !== null")
    assert title is not None
    assert title.startswith(await page.locator("#map .leaflet-popup .popup-title").inner_text())


async def test_the_map_on_a_phone_has_a_list_map_toggle_and_tappable_markers(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    page = await pages(width=390, height=844, mobile=True)
    await _open(page, f"{web_platform.pages}/")
    assert await page.locator("li.institution").first.is_visible()
    assert not await page.locator("#map").is_visible()  # the list first
    assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert await _axe_findings(page) == []
    await page.screenshot(path=_copy_to("directory-phone-list.png"))

    await page.get_by_role("button", name="地图", exact=True).tap()
    assert await page.get_by_role("button", name="地图", exact=True).get_attribute("aria-pressed") == "true"
    assert await page.locator("#map").is_visible()
    assert not await page.locator("li.institution").first.is_visible()
    boundaries, labels = await _districts_drawn(page)
    assert (boundaries, len(labels)) == (11, 11)
    # markers and clusters: at least 30 CSS pixels across (WCAG 2.5.8 asks for 24)
    sizes = await page.locator("#map .leaflet-marker-icon.institution-marker, #map .map-cluster").evaluate_all(
        "els => els.map(e => Math.min(e.getBoundingClientRect().width, e.getBoundingClientRect().height))"
    )
    assert sizes
    assert min(sizes) >= 30
    assert await _axe_findings(page) == []
    await wait_for_js(page, SETTLED)
    await page.evaluate(SHOW_MAP)
    await page.screenshot(path=_copy_to("map-phone-city.png"))

    await page.get_by_role("button", name="列表", exact=True).tap()
    await page.get_by_label("所在区", exact=True).select_option(label="天河区")
    _, tianhe = web_platform.get("filing", "/v1/public/institutions?district=440106&page_size=1")
    await wait_for_js(page, f"document.getElementById('map').dataset.markers === '{tianhe['total']}'")
    await page.get_by_role("button", name="地图", exact=True).tap()
    await wait_for_js(page, f"{TIANHE_WIDTH} > 250")  # the map, shown, fits 天河区 into the phone's width
    await wait_for_js(page, SETTLED)
    await page.evaluate(SHOW_MAP)
    await page.screenshot(path=_copy_to("map-phone-district.png"))
    # from the list, "在地图上查看" switches to the map with that institution's popup open
    await page.get_by_role("button", name="列表", exact=True).tap()
    first = page.locator("li.institution").first
    name = await first.locator("h3").inner_text()
    await first.locator("button.show-on-map").tap()
    await page.locator("#map .leaflet-popup .popup-title a").wait_for()
    assert await page.locator("#map").is_visible()
    link = page.locator("#map .leaflet-popup .popup-title a")
    assert await link.inner_text() == name
    assert (await link.get_attribute("href") or "").startswith("institution.html?id=")


async def test_a_configured_base_map_is_requested_from_its_url(web_platform: WebPlatform, pages: PageFactory) -> None:
    """The tile layer is a setting (window.CHILDCARE_MAP in assets/config.js): set here before the
    page's scripts run, with a template on this machine (production names its licensed service)."""
    page = await pages(width=1280, height=800)
    template = f"{web_platform.pages}/tiles-test/{{z}}/{{x}}/{{y}}.png"
    await page.add_init_script(f"window.CHILDCARE_MAP = {{tileLayers: [{{url: {json.dumps(template)}}}]}};")
    await _open(page, f"{web_platform.pages}/")
    assert await page.locator("#map .leaflet-tile").count() > 0
    tiles = [url for url in pages.log.local if "/tiles-test/" in url]
    assert tiles
    assert all(re.fullmatch(rf"{re.escape(web_platform.pages)}/tiles-test/\d+/\d+/\d+\.png", url) for url in tiles)
    # at the city's zoom, the Web Mercator tile under 天河区 is among them: the layer sits on the city
    requested = {url.split("/tiles-test/")[1].removesuffix(".png") for url in tiles}
    zooms = {int(key.split("/")[0]) for key in requested}
    assert zooms <= {8, 9}
    lat, lng = 23.1291, 113.3240
    for z in zooms:
        x = int((lng + 180) / 360 * 2**z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
        assert f"{z}/{x}/{y}" in requested


def test_every_institution_on_the_map_lies_inside_its_district(web_platform: WebPlatform) -> None:
    """What the map draws, as the directory API serves it: each point inside its district's
    boundary (shapely), and no distance outside a "near" search."""
    document = json.loads(BOUNDARIES.read_text(encoding="utf-8"))
    shapes = {f["properties"]["adcode"]: shape(f["geometry"]) for f in document["features"]}
    status, out = web_platform.get("filing", "/v1/public/institutions?page_size=100")
    assert status == 200
    assert out["total"] == len(out["items"]) == web_platform.institutions_filed
    outside = [
        (i["name"], i["district"]["name"])
        for i in out["items"]
        if not shapes[i["district"]["code"]].contains(Point(i["longitude"], i["latitude"]))
    ]
    assert outside == []
    assert all("distance_km" not in i for i in out["items"])


async def test_a_configured_tile_service_is_the_only_image_origin_the_pages_may_use() -> None:
    """The base map is a setting: web/assets/config.js names the tile URL, csp_img_src lets the
    pages load its images. By default the policy allows the platform's own images only."""
    tiles = "https://t0.tianditu.gov.cn"
    for img_src, expected in [([], "img-src 'self' data:;"), ([tiles], f"img-src 'self' data: {tiles};")]:
        settings = settings_for("filing", web_dir=str(WEB), csp_img_src=img_src)
        app = create_app("filing", settings, Database("postgresql://unused@/unused"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            page = await client.get("/ui/")
        assert page.status_code == 200
        assert expected in page.headers["content-security-policy"]
