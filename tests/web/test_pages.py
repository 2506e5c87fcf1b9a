"""The public pages in headless Chromium against the running platform with the demo city: what a
family looks for is there, filters narrow the list, nothing personal is shown, nothing is loaded
from outside the machine, and the pages fit a phone."""

from __future__ import annotations

import re
import time
from typing import Any

from devstack.demo import plan_city
from tests.support import eventually
from tests.web.conftest import PageFactory, WebPlatform, screenshot_path, wait_for_js

RESIDENT_ID = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9X](?![0-9])")
MASKED_ID = re.compile(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]")
PERSON_REF = re.compile(r"[0-9a-f]{64}")


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await wait_for_js(page, "document.body.dataset.ready", within_ms=30_000)


def _assert_nothing_personal(html: str, web_platform: WebPlatform) -> None:
    assert not RESIDENT_ID.search(html), "a resident ID number is in the page"
    assert not MASKED_ID.search(html), "a masked ID number is in the page"
    assert not PERSON_REF.search(html), "a person_ref is in the page"
    assert "（演示）" not in html, "a (synthetic) person's name is in the page"
    banned = web_platform.summary.details["banned_person_ref"]
    assert banned not in html


async def test_directory_filter_narrows_the_list_and_the_map(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages()
    await _open(page, f"{web_platform.pages}/")
    filed = web_platform.institutions_filed
    status = page.locator("#status")
    assert f"共有已备案托育机构 {filed} 家" in await status.inner_text()
    assert await page.locator("li.institution").count() == min(filed, 20)
    assert await page.locator("#map").get_attribute("data-markers") == str(filed)  # one marker each (test_map.py)
    await page.screenshot(path=screenshot_path("directory.png"), full_page=True)

    # 天河区 (440106) and then 普惠 only: each narrows the list, and the API agrees
    _, expected = web_platform.get("filing", "/v1/public/institutions?district=440106&page_size=100")
    await page.get_by_label("所在区", exact=True).select_option(label="天河区")
    await wait_for_js(page, f"document.querySelector('#status').textContent.includes('{expected['total']} 家')")
    assert 0 < expected["total"] < filed
    districts = await page.locator("li.institution .meta:first-of-type").all_inner_texts()
    assert districts
    assert all(text.startswith("天河区") for text in districts)
    await wait_for_js(page, f"document.getElementById('map').dataset.markers === '{expected['total']}'")
    assert "district=440106" in page.url

    puhui = sum(1 for i in expected["items"] if i["puhui_slots"] > 0)
    await page.get_by_label("普惠托位", exact=True).select_option(label="有普惠托位")
    await wait_for_js(page, f"document.querySelector('#status').textContent.includes('的已备案托育机构 {puhui} 家')")
    assert puhui < expected["total"]
    assert await page.locator("li.institution .badge.puhui").count() == await page.locator("li.institution").count()
    _assert_nothing_personal(await page.content(), web_platform)


async def test_directory_is_readable_on_a_phone(web_platform: WebPlatform, pages: PageFactory) -> None:
    page = await pages(width=390, height=844, mobile=True)
    await _open(page, f"{web_platform.pages}/")
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"
    size = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('li.institution')).fontSize)")
    assert size >= 14
    # every form control has a label a screen reader announces
    for control in await page.locator("form select, form input").all():
        assert await control.evaluate("el => el.labels.length") == 1
    await page.screenshot(path=screenshot_path("directory-phone.png"), full_page=False)


def _published(web_platform: WebPlatform) -> list[dict[str, Any]]:
    _, out = web_platform.get("inspection", "/v1/public/inspection-results?page_size=100")
    return list(out["items"])


async def test_institution_page_shows_slots_grade_and_published_results(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    results = _published(web_platform)
    # the child-abuse case: non-compliant, at the lowest grade and on the serious-dishonesty list
    worst = next(r for r in results if r["violations_by_severity"].get("critical"))
    institution_id = worst["institution_id"]
    _, public = web_platform.get("filing", f"/v1/public/institutions/{institution_id}")
    _, credit = web_platform.get("credit", f"/v1/public/credit/institutions/{institution_id}")
    listed = "serious_dishonesty" in credit.get("lists", [])
    if listed:  # filing's directory hears of the listing from credit's event: 普惠 is suspended

        async def suspended() -> bool:
            return "puhui_suspension" in web_platform.get("filing", f"/v1/public/institutions/{institution_id}")[1]

        await eventually(suspended, within=30)
        _, public = web_platform.get("filing", f"/v1/public/institutions/{institution_id}")
    page = await pages()
    await _open(page, f"{web_platform.pages}/institution.html?id={institution_id}")
    assert await page.locator("h1").inner_text() == public["name"]
    facts = await page.locator("#facts").inner_text()
    assert f"{public['total_slots']} 个" in facts
    assert ("无" if public["puhui_slots"] == 0 else f"{public['puhui_slots']} 个") in facts
    if listed:
        assert "普惠 暂停（自 " in facts
        assert public["puhui_suspension"]["legal_basis"] in facts
    if "suspension" in public:  # 暂停收托 after a confirmed child-abuse case: a badge and a facts row
        assert "暂停收托（自 " in facts
        assert public["suspension"]["legal_basis"] in facts
        assert await page.locator("#suspended-badge .badge.suspended").inner_text() == "暂停收托"
    area = public.get("outdoor_area_m2")  # absent when not stated
    assert ("未填报" if area is None else f"{area:,g} 平方米") in facts
    await page.wait_for_selector("#credit .badge, #credit p")
    credit_text = await page.locator("#credit").inner_text()
    if credit.get("grade"):
        assert f"信用等级 {credit['grade']}" in credit_text
        # what the grade means, in the credit service's words (its policy file), not the page's own
        assert credit["measures"]
        for measure in credit["measures"]:
            assert measure["title"] in credit_text
            assert measure["legal_basis"] in credit_text
    if "serious_dishonesty" in credit.get("lists", []):
        assert "严重失信主体名单" in credit_text
    # the map (Leaflet, assets/citymap.js): this institution's marker alone, within its district's boundary;
    # drawn when it comes near the screen
    district = public["district"]["code"]
    await page.locator("#map").scroll_into_view_if_needed()
    await page.wait_for_selector("#map[data-markers='1']")
    assert await page.locator("#map").get_attribute("data-district") == district
    marker = await page.locator("#map .institution-marker").bounding_box()
    boundary = await page.locator(f"#map path.district-{district}").bounding_box()
    assert marker
    assert boundary
    centre = (marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2)
    assert boundary["x"] <= centre[0] <= boundary["x"] + boundary["width"]
    assert boundary["y"] <= centre[1] <= boundary["y"] + boundary["height"]
    own = [r for r in results if r["institution_id"] == institution_id]
    assert await page.locator(".inspection-result").count() == len(own) >= 1
    assert worst["conclusion_zh"] in await page.locator("#inspections").inner_text()
    _assert_nothing_personal(await page.content(), web_platform)
    await page.screenshot(path=screenshot_path("institution.png"), full_page=True)


async def test_results_page_lists_what_was_published(web_platform: WebPlatform, pages: PageFactory) -> None:
    _, out = web_platform.get("inspection", "/v1/public/inspection-results?page_size=1")
    page = await pages()
    await _open(page, f"{web_platform.pages}/results.html")
    assert f"共公开检查结果 {out['total']} 条" in await page.locator("#status").inner_text()
    assert await page.locator("tr.result-row").count() == min(out["total"], 20)
    assert web_platform.summary.present["results_published"] + web_platform.results_published_by_tests == out["total"]
    _assert_nothing_personal(await page.content(), web_platform)
    await page.screenshot(path=screenshot_path("results.png"), full_page=True)


async def test_credit_lookup_finds_an_institution_and_its_lists(web_platform: WebPlatform, pages: PageFactory) -> None:
    worst = next(r for r in _published(web_platform) if r["violations_by_severity"].get("critical"))
    _, credit = web_platform.get("credit", f"/v1/public/credit/institutions/{worst['institution_id']}")
    page = await pages()
    await _open(page, f"{web_platform.pages}/credit.html")
    await page.get_by_label("机构名称（含关键字）", exact=True).fill(worst["institution_name"])
    await page.get_by_role("button", name="查询").click()
    item = page.locator(f"li.credit-item[data-id='{worst['institution_id']}']")
    await item.get_by_role("button", name="查看信用详情").click()
    detail = page.locator("#detail")
    await detail.locator("h2").wait_for()
    text = await detail.inner_text()
    assert worst["institution_name"] in text
    if credit.get("grade"):
        assert f"信用等级 {credit['grade']}" in text
    if "serious_dishonesty" in credit.get("lists", []):
        assert "严重失信主体名单" in text
    _assert_nothing_personal(await page.content(), web_platform)
    await page.screenshot(path=screenshot_path("credit.png"), full_page=True)


async def test_a_request_to_another_host_would_fail_the_test(web_platform: WebPlatform, pages: PageFactory) -> None:
    """The guard itself: a page that reaches outside is caught (and the request never leaves)."""
    page = await pages()
    await _open(page, f"{web_platform.pages}/results.html")
    # the pages' Content-Security-Policy (connect-src: this host only) stops it before it leaves
    await page.evaluate("fetch('https://cdn.example.com/lib.js').catch(() => null)")
    assert pages.log.external == []
    # a page without that policy: the guard catches it
    await page.goto("about:blank")
    await page.evaluate("fetch('https://cdn.example.com/lib.js').catch(() => null)")
    assert pages.log.external == ["https://cdn.example.com/lib.js"]
    pages.log.external.clear()  # expected here; any other test with one fails in the fixture
    assert all("127.0.0.1" in url for url in pages.log.local)


def test_the_banned_persons_are_synthetic_and_never_public(web_platform: WebPlatform) -> None:
    """The person the demo bans is on the credit officers' list, and only there."""
    # one entry per person: a test's child-abuse case may name a person the demo or another test banned
    expected = sorted({web_platform.summary.details["banned_person_ref"], *web_platform.persons_banned_by_tests})
    for _ in range(100):  # a ban another test caused arrives through credit's consumer
        status, bans = web_platform.get("credit", "/v1/credit/lists/industry_ban", "credit_officer")
        assert status == 200
        if sorted(m["subject_id"] for m in bans["items"]) == expected:
            break
        time.sleep(0.1)
    assert sorted(m["subject_id"] for m in bans["items"]) == expected
    status, _ = web_platform.get("credit", "/v1/credit/lists/industry_ban")
    assert status == 401  # not public
    names = {p.name for plan in plan_city(11, 40) for p in plan.staff}
    assert all(name.endswith("（演示）") for name in names)


async def test_a_suspended_institution_is_marked_on_its_page(web_platform: WebPlatform, pages: PageFactory) -> None:
    """暂停收托 (the demo's confirmed child-abuse case in 天河区): left out of the directory's default list,
    found with include_suspended, and its page says so in a badge and a facts row (since, reason, legal
    basis, 普惠 not offered)."""
    _, default = web_platform.get("filing", "/v1/public/institutions?district=440106&page_size=100")
    _, asked = web_platform.get(
        "filing", "/v1/public/institutions?district=440106&page_size=100&include_suspended=true"
    )
    suspended = [i for i in asked["items"] if "suspension" in i]
    assert suspended, "the demo's child-abuse case suspends its institution"
    assert not {i["id"] for i in suspended} & {i["id"] for i in default["items"]}
    institution = suspended[0]
    page = await pages()
    await _open(page, f"{web_platform.pages}/institution.html?id={institution['id']}")
    assert await page.locator("#suspended-badge .badge.suspended").inner_text() == "暂停收托"
    facts = await page.locator("#facts").inner_text()
    assert "暂停收托（自 " in facts
    assert institution["suspension"]["reason_zh"] in facts
    assert institution["suspension"]["legal_basis"] in facts
    assert "不提供普惠托位" in facts
    # no places offered meanwhile: neither vacancies nor 普惠 places, the filed capacity only labelled as such
    rows = dict(
        zip(
            await page.locator("#facts dt").all_inner_texts(),
            await page.locator("#facts dd").all_inner_texts(),
            strict=True,
        )
    )
    assert rows["空余托位"] == "暂停收托，不接收入托"
    assert rows["备案托位"] == f"{institution['total_slots']} 个"
    if institution["puhui_slots"] > 0:
        assert rows["普惠托位"] == f"暂停收托期间不提供（备案普惠托位 {institution['puhui_slots']} 个）"
    _assert_nothing_personal(await page.content(), web_platform)
