"""The planner's dashboard in headless Chromium: one bar per district, and every figure it shows is
the reporting service's statistic for the same data (GET /v1/stats/districts, /v1/stats/streets)."""

from __future__ import annotations

from typing import Any

from shared.reference import districts
from tests.web.conftest import PageFactory, WebPlatform, screenshot_path, wait_for_js

PANELS = (
    "slots",
    "slots_per_1000",
    "puhui",
    "annual_reports",
    "staff",
    "inspections",
    "grades",
    "violations",
    "streets",
)


def _year(web_platform: WebPlatform) -> int:
    return int(web_platform.summary.details["year"])


def _path(row: dict[str, Any] | None, path: str) -> Any:
    value: Any = row
    for key in path.split("."):
        value = None if value is None else value.get(key)
    return value


def _responses(web_platform: WebPlatform, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for endpoint, year in sorted(wanted):
        status, body = web_platform.get("reporting", f"/v1/stats/{endpoint}?year={year}")
        assert status == 200, body
        out[(endpoint, year)] = {row["code"]: row for row in [*body["districts"], body["city"]]}
    return out


async def _open_dashboard(web_platform: WebPlatform, page: Any) -> None:
    await page.goto(f"{web_platform.pages}/dashboard.html?year={_year(web_platform)}")
    await wait_for_js(page, "document.body.dataset.ready", within_ms=30_000)
    assert await page.evaluate("document.body.dataset.ready") == "true", await page.locator("#status").inner_text()


async def test_dashboard_chart_has_one_bar_per_district(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages(width=1366, height=900)
    await _open_dashboard(web_platform, page)
    option = await page.evaluate(
        "(() => { const o = echarts.getInstanceByDom(document.getElementById('chart-slots')).getOption();"
        " return {names: o.xAxis[0].data, series: o.series.map(s => ({type: s.type, bars: s.data.length}))}; })()"
    )
    names = [d.name for d in districts().values()]
    assert option["names"] == names  # the districts in the data file's order
    assert option["series"][0] == {"type": "bar", "bars": 11}
    for panel in PANELS:
        assert await page.locator(f"#panel-{panel} .chart svg").count() == 1, panel
        assert await page.locator(f"#table-{panel} tbody tr").count() == 12, panel  # 11 districts + city
    await page.screenshot(path=screenshot_path("dashboard.png"), full_page=True)

    phone = await pages(width=390, height=844, mobile=True)
    await _open_dashboard(web_platform, phone)
    assert await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    await phone.screenshot(path=screenshot_path("dashboard-phone.png"), full_page=False)


async def test_dashboard_figures_equal_the_reporting_statistics(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages()
    # Events may still be flowing into the reporting service: compare only when the API gave the same
    # figures just before and just after the page loaded its own.
    for _attempt in range(10):
        cells = []
        wanted = {("districts", str(_year(web_platform))), ("streets", str(_year(web_platform)))}
        before = _responses(web_platform, wanted | {("districts", "2025"), ("streets", "2025")})
        await _open_dashboard(web_platform, page)
        cells = await page.eval_on_selector_all(
            "td[data-path]",
            "els => els.map(e => [e.dataset.source, e.dataset.year, e.dataset.district, e.dataset.path,"
            " e.dataset.value])",
        )
        after = _responses(web_platform, set(before))
        if before == after:
            break
    else:
        raise AssertionError("the statistics kept changing")
    assert len(cells) > 11 * 20
    assert {(source, year) for source, year, *_ in cells} <= set(before)
    for source, year, code, path, shown in cells:
        expected = _path(before[(source, year)].get(code), path)
        if expected is None:
            assert shown == "", (source, year, code, path)
        else:
            assert float(shown) == float(expected), (source, year, code, path, shown, expected)
    # and the figures a person reads are those numbers: the city's filed slots, formatted
    city = before[("districts", str(_year(web_platform)))]["440100"]
    kpi = await page.locator(".kpi[data-path='slots.value'] .value").inner_text()
    assert kpi == f"{city['slots']['value']:,}"
