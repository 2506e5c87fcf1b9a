"""The planner's dashboard in headless Chromium: one bar per district, and every figure it shows is
the reporting service's statistic for the same data (GET /v1/stats/districts, /v1/stats/streets,
/v1/stats/progress), under the API's own Chinese label, at desktop and phone widths; axe-core finds
nothing serious and no request leaves this machine (the ``pages`` fixture fails the test otherwise)."""

from __future__ import annotations

from typing import Any

from shared.reference import districts
from tests.web.conftest import PageFactory, WebPlatform, screenshot_path, wait_for_js
from tests.web.test_map import _axe_findings

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
        if isinstance(value, list):  # operating_models.3.slots: the fourth model
            value = value[int(key)]
        else:
            value = None if value is None else value.get(key)
    return value


def _responses(web_platform: WebPlatform, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for endpoint, year in sorted(wanted):
        status, body = web_platform.get("reporting", f"/v1/stats/{endpoint}?year={year}")
        assert status == 200, body
        out[(endpoint, year)] = {row["code"]: row for row in [*body["districts"], body["city"]]}
    return out


def _progress(web_platform: WebPlatform) -> dict[tuple[str, str], dict[str, Any]]:
    """GET /v1/stats/progress as ("progress", year) → area code → that year's figures."""
    status, body = web_platform.get("reporting", "/v1/stats/progress")
    assert status == 200, body
    return {
        ("progress", str(year)): {area["code"]: area["years"][n] for area in [*body["districts"], body["city"]]}
        for n, year in enumerate(body["years"])
    }


def _labels(web_platform: WebPlatform) -> dict[str, str]:
    """The Chinese name of every figure, as the statistics API gives them."""
    year = _year(web_platform)
    labels: dict[str, str] = {}
    for endpoint in ("districts", "streets"):
        status, body = web_platform.get("reporting", f"/v1/stats/{endpoint}?year={year}")
        assert status == 200, body
        labels.update(body["labels"])
    return labels


async def _shown_figures(page: Any) -> list[list[str]]:
    """Every number on the page that names its source (table cells and the city's cards)."""
    return list(
        await page.eval_on_selector_all(
            "[data-source][data-path]",
            "els => els.map(e => [e.dataset.source, e.dataset.year, e.dataset.district, e.dataset.path,"
            " e.dataset.value, e.textContent.trim()])",
        )
    )


def _compare(shown: list[list[str]], answers: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert {(source, year) for source, year, *_ in shown} <= set(answers)
    for source, year, code, path, value, text in shown:
        expected = _path(answers[(source, year)].get(code), path)
        where = (source, year, code, path, value, expected)
        if expected is None:
            assert value == "", where
            assert "—" in text, where
        else:
            assert float(value) == float(expected), where
            assert text != "—", where


async def _open_dashboard(web_platform: WebPlatform, page: Any) -> None:
    await page.goto(f"{web_platform.pages}/dashboard.html?year={_year(web_platform)}")
    await wait_for_js(page, "document.body.dataset.ready", within_ms=30_000)
    assert await page.evaluate("document.body.dataset.ready") == "true", await page.locator("#status").inner_text()
    await _draw_every_chart(page)


async def _draw_every_chart(page: Any) -> None:
    """A chart is drawn when its panel comes near the screen (dashboard.js): bring each panel to the
    screen, as a reader scrolling down would, and wait until its chart is drawn."""
    ids = await page.eval_on_selector_all(".panel .chart", "els => els.map(e => e.id)")
    assert len(ids) >= len(PANELS)
    for chart_id in ids:
        await page.locator(f"#{chart_id}").scroll_into_view_if_needed()
        await wait_for_js(page, f"document.getElementById('{chart_id}').dataset.drawn === 'true'")
    await page.evaluate("window.scrollTo(0, 0)")


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
    # 千人口托位 and 普惠 share have city-wide targets only: no target line or bar is drawn against
    # the districts, and every district's target cell is empty
    for panel in ("slots_per_1000", "puhui"):
        drawn = await page.evaluate(
            f"(() => {{ const o = echarts.getInstanceByDom(document.getElementById('chart-{panel}')).getOption();"
            " return o.series.map(s => ({bars: s.data.length, lines: ((s.markLine || {}).data || []).length})); })()"
        )
        assert drawn == [{"bars": 11, "lines": 0}], (panel, drawn)
        targets = await page.eval_on_selector_all(
            f"#table-{panel} td[data-path='{panel}.target']",
            "els => els.map(e => [e.dataset.district, e.dataset.value])",
        )
        assert len(targets) == 12, panel
        assert {value for code, value in targets if code != "440100"} == {""}, panel
    for panel in PANELS:
        assert await page.locator(f"#panel-{panel} .chart svg").count() == 1, panel
        assert await page.locator(f"#table-{panel} tbody tr").count() == 12, panel  # 11 districts + city
    await page.screenshot(path=screenshot_path("dashboard.png"), full_page=True)

    phone = await pages(width=390, height=844, mobile=True)
    await phone.goto(f"{web_platform.pages}/dashboard.html?year={_year(web_platform)}")
    await wait_for_js(phone, "document.body.dataset.ready === 'true'", within_ms=30_000)
    # on a phone's first screen: the figures, every one in its table already; a chart far below is
    # drawn only when the reader comes near it (the phone's CPU is not spent on charts nobody sees)
    assert await phone.locator("#table-complaints > table > tbody > tr").count() == 12
    assert await phone.locator("#chart-complaints svg").count() == 0
    await _draw_every_chart(phone)
    assert await phone.locator("#chart-complaints svg").count() == 1
    assert await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    await phone.screenshot(path=screenshot_path("dashboard-phone.png"), full_page=False)


async def test_dashboard_figures_equal_the_reporting_statistics(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages()
    # Events may still be flowing into the reporting service: compare only when the API gave the same
    # figures just before and just after the page loaded its own.
    for _attempt in range(10):
        cells = []
        wanted = {("districts", str(_year(web_platform))), ("streets", str(_year(web_platform)))}
        before = {
            **_responses(web_platform, wanted | {("districts", "2025"), ("streets", "2025")}),
            **_progress(web_platform),
        }
        await _open_dashboard(web_platform, page)
        cells = await page.eval_on_selector_all(
            "td[data-path]",
            "els => els.map(e => [e.dataset.source, e.dataset.year, e.dataset.district, e.dataset.path,"
            " e.dataset.value])",
        )
        after = {**_responses(web_platform, {k for k in before if k[0] != "progress"}), **_progress(web_platform)}
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


async def _settled(web_platform: WebPlatform, page: Any) -> tuple[list[list[str]], dict[tuple[str, str], Any]]:
    """The page's figures and the API's answers they come from, fetched just before and just after
    the page loaded its own (events may still be flowing into the reporting service)."""
    year = str(_year(web_platform))
    wanted = {("districts", year), ("streets", year), ("districts", "2025"), ("streets", "2025")}
    for _attempt in range(10):
        before = {**_responses(web_platform, wanted), **_progress(web_platform)}
        await _open_dashboard(web_platform, page)
        shown = await _shown_figures(page)
        after = {**_responses(web_platform, wanted), **_progress(web_platform)}
        if before == after:
            return shown, before
    raise AssertionError("the statistics kept changing")


async def test_every_figure_and_label_is_the_apis_at_desktop_and_phone_widths(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    labels = _labels(web_platform)
    year = _year(web_platform)
    for width, height, mobile in ((1280, 900, False), (390, 844, True)):
        page = await pages(width=width, height=height, mobile=mobile)
        shown, answers = await _settled(web_platform, page)
        _compare(shown, answers)
        sources = {(source, path) for source, _year, _code, path, *_ in shown}
        # the plan's figures are all there: baseline and gap, progress by year, per-model targets,
        # filing pass rate, quality grades, unlicensed cases, complaints
        for figure in (
            ("districts", "slots.baseline_2022"),
            ("districts", "slots.to_add_2025"),
            ("progress", "slots.value"),
            ("progress", "slots.target"),
            ("progress", "slots.baseline_2022"),
            ("progress", "slots_per_1000.target"),
            ("districts", "filing_decisions.pass_rate"),
            ("districts", "quality_assessment.grades.A"),
            ("districts", "unlicensed_cases.open"),
            ("districts", "complaints.received"),
            ("districts", "complaints.by_category.safety"),
            ("streets", "public_private_target"),
        ):
            assert figure in sources, (width, figure)
        models = [p for s, p in sources if s == "districts" and p.startswith("operating_models.")]
        assert any(p.endswith(".added_institutions_target") for p in models), width
        assert any(p.endswith(".slots_target") for p in models), width
        # the progress table shows every year from the plan's first to the year chosen
        progress_years = {int(y) for s, y, *_ in shown if s == "progress"}
        assert progress_years == set(range(2023, year + 1)), width
        # every figure is named as the API names it: column headers and the city's cards
        named = await page.eval_on_selector_all(
            "[data-label]", "els => els.map(e => [e.dataset.label, e.textContent.trim()])"
        )
        assert len(named) > 60, width
        for path, text in named:
            assert text.startswith(labels[path]), (width, path, text, labels[path])
        # one name for one figure: the card and the panel both say 检查覆盖率 (the API's label)
        card = await page.locator(".kpi [data-label='inspections.coverage']").inner_text()
        title = await page.locator("#h-inspections").inner_text()
        assert card == title == labels["inspections.coverage"] == "检查覆盖率"
        # the 年报 shown for a year are that year's (filed by 31 March of the next)
        report_card = await page.locator(".kpi [data-label='annual_reports.completion_rate']").inner_text()
        assert report_card == f"{labels['annual_reports.completion_rate']}（{year}年度年报）"
        assert await _axe_findings(page) == [], width
        if mobile:
            assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            # on a phone the districts run down the side, so their names are never drawn over each other
            for chart in ("slots", "puhui", "streets", "complaints"):
                drawn = page.locator(f"#chart-{chart}")
                assert await drawn.get_attribute("data-orientation") == "horizontal", chart
                texts = await drawn.locator("svg text").all_text_contents()
                assert {d.name for d in districts().values()} <= set(texts), chart
            await page.locator("#panel-slots").screenshot(path=screenshot_path("dashboard-phone-chart.png"))
        else:
            assert await page.locator("#chart-slots").get_attribute("data-orientation") == "vertical"


async def test_report_completion_is_the_filing_services_for_the_year(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    """The demo files the annual reports of its year: the dashboard for that year shows the filing
    service's completion of those reports, not "—"."""
    year = _year(web_platform)
    status, completion = web_platform.get("filing", f"/v1/annual-reports/completion?year={year}", "supervisor")
    assert status == 200, completion
    rate = completion["total"]["completion_rate"]
    assert rate is not None
    assert rate > 0
    page = await pages()
    await _open_dashboard(web_platform, page)
    shown = await page.locator(".kpi [data-path='annual_reports.completion_rate']").get_attribute("data-value")
    assert shown is not None
    assert float(shown) == rate
    cells = await page.eval_on_selector_all(
        "#table-annual_reports td[data-district='440100']", "els => els.map(e => [e.dataset.path, e.dataset.value])"
    )
    by_path = dict(cells)
    assert int(by_path["annual_reports.expected"]) == completion["total"]["expected"]
    assert int(by_path["annual_reports.submitted"]) == completion["total"]["submitted"]
