"""The institution's public record and the search, in headless Chromium against the running platform
with the demo city: a name or a unified social credit code finds the institution (directory and
credit lookup), the record shows every published inspection with its violations and the follow-up
that verified them, a report prints alone, dates are Beijing dates whatever the browser's time zone,
nothing personal is shown and axe-core finds nothing serious."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.web.conftest import PageFactory, WebPlatform, keep_for_docs, screenshot_path, wait_for_js
from tests.web.test_map import _axe_findings
from tests.web.test_pages import _assert_nothing_personal

PHONE: dict[str, Any] = {"width": 390, "height": 844, "mobile": True}
DESKTOP: dict[str, Any] = {"width": 1280, "height": 800}


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await wait_for_js(page, "document.body.dataset.ready", within_ms=30_000)


def _all_results(web_platform: WebPlatform) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        _, out = web_platform.get("inspection", f"/v1/public/inspection-results?page_size=100&page={page}")
        items += out["items"]
        if page * 100 >= out["total"]:
            return items
        page += 1


def _verified_follow_up(web_platform: WebPlatform) -> dict[str, Any]:
    """A demo follow-up inspection that found the violation rectified."""
    return next(r for r in _all_results(web_platform) if r["follow_up_of"] and r["follow_up_of"]["rectified"])


def _keep(name: str) -> None:
    """A screenshot for the docs (docs/screenshots), besides the test run's artefacts."""
    keep_for_docs(name)


async def test_a_name_or_a_code_finds_the_institution(web_platform: WebPlatform, pages: PageFactory) -> None:
    _, everyone = web_platform.get("filing", "/v1/public/institutions?page_size=100")
    wanted = everyone["items"][len(everyone["items"]) // 2]
    part = wanted["name"][2:8]  # a part of the name, not its beginning
    _, expected = web_platform.get("filing", f"/v1/public/institutions?{urlencode({'q': part, 'page_size': 100})}")
    assert wanted["id"] in [i["id"] for i in expected["items"]]
    assert expected["total"] < everyone["total"], "the part of the name narrows the directory"

    page = await pages(**DESKTOP)
    await _open(page, f"{web_platform.pages}/")
    await page.get_by_label("机构名称或统一社会信用代码", exact=True).fill(part)
    await page.get_by_role("button", name="查询", exact=True).click()
    await wait_for_js(page, f"document.querySelector('#status').textContent.includes('{expected['total']} 家')")
    assert parse_qs(urlsplit(page.url).query)["q"] == [part], "the search is in the page's address"
    shown = await page.locator("li.institution h3").all_inner_texts()
    assert wanted["name"] in shown
    assert all(part in name for name in shown)

    # the credit lookup searches the same way, also by the whole code (read from the public record)
    _, record = web_platform.get("filing", f"/v1/public/institutions/{wanted['id']}/record")
    await _open(page, f"{web_platform.pages}/credit.html")
    await page.get_by_label("机构名称（含关键字）", exact=True).fill(record["uscc"])
    await page.get_by_role("button", name="查询", exact=True).click()
    await wait_for_js(page, "document.querySelector('#status').textContent.includes('找到 1 家机构')")
    assert await page.locator("li.credit-item h3").all_inner_texts() == [wanted["name"]]
    _assert_nothing_personal(await page.content(), web_platform)


async def test_the_record_shows_each_violation_and_the_follow_up(web_platform: WebPlatform, pages: PageFactory) -> None:
    follow_up = _verified_follow_up(web_platform)
    institution_id = follow_up["institution_id"]
    _, record = web_platform.get("filing", f"/v1/public/institutions/{institution_id}/record")
    _, results = web_platform.get("inspection", f"/v1/public/inspection-results?institution={institution_id}")
    original = next(r for r in results["items"] if r["task_id"] == follow_up["follow_up_of"]["task_id"])
    closed = next(v for v in original["violations"] if v["status"] == "closed")

    for name, size in (("institution-record.png", DESKTOP), ("institution-record-phone.png", PHONE)):
        page = await pages(**size)
        await _open(page, f"{web_platform.pages}/institution.html?id={institution_id}")
        facts = await page.locator("#facts").inner_text()
        for shown in (record["filing_number"], record["filed_on"], record["uscc"], record["organiser_type_zh"]):
            assert shown in facts
        assert all(c["age_group_zh"] in facts for c in record["classes"])
        assert record.get("public_phone", "未公开") in facts
        # another test's child-abuse case may suspend this institution (the browser tests share one
        # platform): the record read after the page says which the page had to show
        _, now = web_platform.get("filing", f"/v1/public/institutions/{institution_id}/record")
        enrolment = now.get("enrolment")
        if now.get("suspension"):
            assert "暂停收托，不接收入托" in facts
        else:
            assert (
                f"{enrolment['vacancies']} 个（据 {enrolment['year']} 年度年报" if enrolment else "未公布（尚无年报）"
            ) in facts
        assert "服务时间" in facts
        assert (record.get("opening_hours") or "未填报").replace("-", "—") in facts
        await page.wait_for_selector("#credit .badge, #credit p")
        assert await page.locator("article.inspection-result").count() == results["total"] >= 2

        first = page.locator(f"#inspection-{original['task_id']}")
        text = await first.inner_text()
        assert original["conclusion_zh"] in text
        assert closed["title_zh"] in text
        assert closed["severity_zh"] in text
        assert closed["legal_basis"] in text
        assert closed["rectification_due"] in text
        assert "已整改（复查确认）" in text
        assert f"{follow_up['inspected_on']} 复查：整改到位" in text
        verified = await page.locator(f"#inspection-{follow_up['task_id']}").inner_text()
        assert "整改复查" in verified
        assert f"复查 {closed['title_zh']} 的整改情况" in verified

        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: the page scrolls sideways"
        # a long value (the filing number, the unified social credit code) wraps: nothing of the facts
        # card reaches past the page's margin or the screen's edge (at 390 px the card ran ~8 px into
        # the margin, which the page's scroll width does not show)
        past_the_edge = await page.evaluate(
            "(() => { const main = document.getElementById('main');"
            " const edge = Math.min(document.documentElement.clientWidth,"
            " main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight));"
            " const card = document.getElementById('facts').closest('.card');"
            " return [card, ...card.querySelectorAll('*')]"
            ".filter(e => e.getBoundingClientRect().right > edge + 0.5)"
            ".map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 40)); })()"
        )
        assert past_the_edge == [], f"{name}: {past_the_edge}"
        assert await _axe_findings(page) == []
        _assert_nothing_personal(await page.content(), web_platform)
        # the map loads when it nears the screen: bring it in, so the picture shows it drawn
        await page.locator("#map").scroll_into_view_if_needed()
        await page.wait_for_selector("#map[data-markers='1']")
        await first.scroll_into_view_if_needed()
        await page.screenshot(path=screenshot_path(name), full_page=True)
        _keep(name)


async def test_a_report_prints_alone(web_platform: WebPlatform, pages: PageFactory) -> None:
    follow_up = _verified_follow_up(web_platform)
    page = await pages(**DESKTOP)
    await _open(
        page,
        f"{web_platform.pages}/institution.html?id={follow_up['institution_id']}&print={follow_up['task_id']}",
    )
    await page.emulate_media(media="print")
    visible = await page.locator("article.inspection-result").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => e.dataset.task)"
    )
    assert visible == [follow_up["task_id"]]
    assert not await page.locator("#map").is_visible()
    assert not await page.locator(".site-header").is_visible()
    assert await page.locator("article.printing .print-only").is_visible(), "the report names the institution"
    await page.screenshot(path=screenshot_path("inspection-report-print.png"), full_page=True)


async def test_a_result_published_at_1730_utc_shows_the_next_beijing_day(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    # 2026-12-05T17:30Z is 01:30 on the 6th in Guangzhou. No API sets a publication time, so the
    # test sets it on one published result (and the directory's copy of it) in the databases.
    assert web_platform.pg is not None
    target = _verified_follow_up(web_platform)
    task_id = target["task_id"]
    web_platform.pg.sql(
        "UPDATE published_result SET published_at = '2026-12-05T17:30:00Z', inspected_on = '2026-12-06'"
        f" WHERE task_id = '{task_id}';",
        database=web_platform.databases["inspection"],
    )
    web_platform.pg.sql(
        f"UPDATE directory_inspection_result SET published_at = '2026-12-05T17:30:00Z' WHERE task_id = '{task_id}';",
        database=web_platform.databases["filing"],
    )
    _, results = web_platform.get("inspection", f"/v1/public/inspection-results?institution={target['institution_id']}")
    result = next(r for r in results["items"] if r["task_id"] == task_id)
    assert result["published_at"].startswith("2026-12-05T17:30")
    assert result["published_on"] == "2026-12-06"

    # a browser whose own clock is on UTC, and one on Los Angeles time: the page says the 6th
    for zone in ("UTC", "America/Los_Angeles"):
        page = await pages(**DESKTOP, timezone_id=zone)
        await _open(page, f"{web_platform.pages}/institution.html?id={target['institution_id']}")
        article = page.locator(f"#inspection-{task_id}")
        assert await article.locator(".published-on").inner_text() == "2026-12-06"
        assert await article.locator(".inspected-on").inner_text() == "2026-12-06"
        assert "2026-12-05" not in await article.inner_text()

        # the directory's entry: its latest inspection, published on the 6th
        _, entry = web_platform.get("filing", f"/v1/public/institutions/{target['institution_id']}")
        if entry["latest_inspection"] and entry["latest_inspection"]["published_at"].startswith("2026-12-05T17:30"):
            _, record = web_platform.get("filing", f"/v1/public/institutions/{target['institution_id']}/record")
            await _open(page, f"{web_platform.pages}/?q={record['uscc']}")
            item = page.locator("li.institution").first
            await item.wait_for()
            assert "（2026-12-06）" in await item.inner_text()


async def test_the_record_leads_to_the_complaint_form(web_platform: WebPlatform, pages: PageFactory) -> None:
    follow_up = _verified_follow_up(web_platform)
    _, entry = web_platform.get("filing", f"/v1/public/institutions/{follow_up['institution_id']}")
    page = await pages(**PHONE)
    await _open(page, f"{web_platform.pages}/institution.html?id={follow_up['institution_id']}")
    await page.get_by_role("link", name="投诉举报该机构").click()
    await page.wait_for_url("**/complaint.html?institution=*")
    await wait_for_js(page, "document.body && document.body.dataset.ready")
    assert entry["name"] in await page.locator("#about").inner_text()
    await page.get_by_label("问题类别").select_option(label="卫生与膳食")
    await page.get_by_label("情况描述（10—1000字）").fill("午餐的饭菜是凉的，孩子回家说肚子不舒服，希望检查食堂。")
    await page.get_by_role("button", name="提交投诉").click()
    await page.locator("#receipt").wait_for()
    receipt = await page.locator("#receipt-code").inner_text()
    assert len(receipt) == 10
    # the complaint is the service's: its public status answers to the receipt
    code, status = web_platform.get("inspection", f"/v1/public/complaints/{receipt}")
    assert code == 200, status
    assert status["receipt"] == receipt
    assert await page.evaluate("document.activeElement.id") == "receipt", "focus moves to the receipt"
    assert await _axe_findings(page) == []
