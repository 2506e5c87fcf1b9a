"""The officers' workbench (/ui/work/) in Chromium, on the demo city, signing in through the real
OpenID Connect provider the services trust (devstack/oidc/, started by the web platform): the morning
list's counts are the services' own summaries; a filing is decided by a second officer after the
submitter is refused with the API's Chinese message (four eyes); a submitted task is reviewed; and
the public directory and the public record then show what was done. axe-core finds nothing serious
on any workbench page; screenshots of the morning list and the two item pages go to
docs/screenshots/workbench-*.png."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from services.filing.institutions.errors import SelfDecision
from shared.auth import mint_token
from tests.web.conftest import PageFactory, WebPlatform, keep_for_docs, screenshot_path, wait_for_js
from tests.web.test_map import _axe_findings

PHONE: dict[str, Any] = {"width": 390, "height": 844, "mobile": True}
DESKTOP: dict[str, Any] = {"width": 1280, "height": 800}
SIZES = (("", DESKTOP), ("-phone", PHONE))
WORK_SERVICES = ("filing", "inspection", "credit")
# The provider's development login page (oidc-provider's devInteractions, never deployed) imports a
# Google font; the guard aborts it like any request leaving the machine. Only that is forgiven here,
# and only while the browser is on the provider's pages.
PROVIDER_FONT = "https://fonts.googleapis.com/"
STATUS = "(document.getElementById('status') || {dataset: {}}).dataset"
QUEUE_SHOWN = f"location.pathname.endsWith('/queue.html') && {STATUS}.total"
ITEM_SHOWN = f"location.pathname.endsWith('/item.html') && {STATUS}.ready"


def _keep(name: str) -> None:
    keep_for_docs(name)


async def _signed_in(web_platform: WebPlatform, pages: PageFactory, account: str, size: dict[str, Any]) -> Any:
    """A new browser (its own session) signed in as ``account`` through the provider's login and
    consent pages, back on the morning list."""
    page = await pages(**size)
    # the deployment's configuration of the provider (assets/config.js would set it); ./dev run's
    # default (the pages' port + 9) is not this test platform's port
    await page.context.add_init_script(f"window.CHILDCARE_OIDC = {json.dumps({'issuer': web_platform.oidc_issuer})};")
    await page.goto(f"{web_platform.pages}/work/")
    external_before = len(pages.log.external)
    await page.get_by_role("button", name="通过统一身份认证登录").click()
    await page.wait_for_url(f"{web_platform.oidc_issuer}/**")
    await page.locator('input[name="login"]').fill(account)
    await page.locator('input[name="password"]').fill("demo")
    await page.locator('button[type="submit"]').click()
    await page.wait_for_selector('input[name="prompt"][value="consent"]', state="attached")
    await page.locator('button[type="submit"]').first.click()
    await page.wait_for_url(f"{web_platform.pages}/work/")
    leaked = pages.log.external[external_before:]
    assert all(url.startswith(PROVIDER_FONT) for url in leaked), leaked
    del pages.log.external[external_before:]
    await wait_for_js(page, f"location.pathname.endsWith('/work/') && {STATUS}.ready")
    token = await page.evaluate("sessionStorage.getItem('work.token')")
    assert token, "the access token is kept for the tab"
    assert token.count(".") == 2
    return page


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await wait_for_js(page, f"{STATUS}.ready || {STATUS}.total")


def _item_page(web_platform: WebPlatform, service: str, queue: str, item: dict[str, Any]) -> str:
    query = urlencode(
        {"service": service, "queue": queue, "kind": item["kind"], "id": item["id"], "link": item["link"]}
    )
    return f"{web_platform.pages}/work/item.html?{query}"


def _call(
    web_platform: WebPlatform, method: str, service: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    """A write as the inspectors' phones make it (JSON, an idempotency key)."""
    request = urllib.request.Request(
        web_platform.urls[service] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            **({"Authorization": f"Bearer {token}"} if token else {}),
            "Content-Type": "application/json",
            "Idempotency-Key": f"workbench-test-{uuid.uuid4().hex}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _a_submitted_task(web_platform: WebPlatform) -> dict[str, Any]:
    """A task awaiting review (the demo city's, or one of its open tasks finished here by its team
    through the inspectors' API: check in on site, every checklist item answered, all sign)."""
    awaiting = _queue(web_platform, "inspection", "tasks_awaiting_review")["items"]
    if any(i["institution"] for i in awaiting):
        return next(i for i in awaiting if i["institution"])
    _, pool = web_platform.get("inspection", "/v1/inspectors", "supervisor")
    subjects = {i["id"]: i["subject"] for i in pool["items"]}

    def inspector(subject: str) -> str:
        return mint_token(web_platform.token_settings, subject=subject, roles=["inspector"])

    open_tasks = []
    for subject in subjects.values():
        status, mine = _call(web_platform, "GET", "inspection", "/v1/me/tasks", inspector(subject))
        if status == 200:
            open_tasks += [t for t in mine["items"] if t["status"] in ("assigned", "in_progress") and t["institution"]]
    if open_tasks:
        task_id = open_tasks[0]["id"]
    else:  # every demo task is done at this scale: a targeted inspection by two of the district's inspectors
        task_id = _targeted_inspection(web_platform, pool["items"])
    _, task = web_platform.get("inspection", f"/v1/tasks/{task_id}", "supervisor")
    place = task["institution"]
    tokens = [inspector(subjects[m["inspector_id"]]) for m in task["members"]]
    checked_in = {c["inspector_id"] for c in task["checkins"]}
    for member, token in zip(task["members"], tokens, strict=True):
        if member["inspector_id"] not in checked_in:
            at = {"lat": place["latitude"] + 0.0003, "lng": place["longitude"] - 0.0002}
            status, answer = _call(web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/check-in", token, at)
            assert status in (200, 201), answer
    items = [{"item_code": c["item_code"], "result": "pass", "note": None} for c in task["checklist"]]
    status, answer = _call(
        web_platform, "PUT", "inspection", f"/v1/tasks/{task_id}/findings", tokens[0], {"items": items}
    )
    assert status in (200, 201), answer
    if not task["violations"]:  # one finding for the reviewer to confirm
        finding = {"code": "DISCLOSURE_INCOMPLETE", "description": "未在醒目位置公示收费项目和膳食信息"}
        status, answer = _call(
            web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/violations", tokens[0], finding
        )
        assert status in (200, 201), answer
    for token in tokens:
        status, answer = _call(web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/submit", token)
        assert status in (200, 201), answer
    awaiting = _queue(web_platform, "inspection", "tasks_awaiting_review")["items"]
    return next(i for i in awaiting if i["id"] == task_id)


def _targeted_inspection(web_platform: WebPlatform, pool: list[dict[str, Any]]) -> str:
    _, filed = web_platform.get("filing", "/v1/institutions?status=filed&page_size=100", "supervisor")
    for institution in filed["items"]:
        team = [i["id"] for i in pool if i["active"] and institution["district_code"] in i["districts"]][:2]
        if len(team) < 2:
            continue
        body = {
            "institution_id": institution["id"],
            "inspector_ids": team,
            "reason": "other",
            "reason_detail": "工作台测试：定向检查",
            "due_by": (date.today() + timedelta(days=7)).isoformat(),
        }
        supervisor = web_platform.token("supervisor")
        status, task = _call(web_platform, "POST", "inspection", "/v1/targeted-inspections", supervisor, body)
        if status == 201:
            return str(task["id"])
    raise AssertionError("no institution with two inspectors of its district to inspect")


def _queue(web_platform: WebPlatform, service: str, queue: str, **params: Any) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"page_size": 100, **params}.items())
    status, answer = web_platform.get(service, f"/v1/work/queues/{queue}?{query}", "supervisor")
    assert status == 200, answer
    return dict(answer)


async def test_the_morning_list_of_a_supervisor_is_the_services_summaries(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    expected: dict[str, int] = {}
    summaries: dict[str, Any] = {}
    for service in WORK_SERVICES:
        status, summary = web_platform.get(service, "/v1/work/summary", "supervisor")
        assert status == 200, summary
        summaries[service] = summary
        expected.update({q["queue"]: q["count"] for q in summary["queues"]})
    assert sum(expected.values()) > 0

    for suffix, size in SIZES:
        page = await _signed_in(web_platform, pages, "demo-supervisor", size)
        assert await page.locator("#officer-display").inner_text() == "市卫健委托育监管主管（演示）"
        assert await page.locator("#officer-roles").inner_text() == "监管主管"
        assert await page.locator("#officer-districts").inner_text() == "全市"
        shown = await page.locator("a[data-queue]").evaluate_all(
            "links => Object.fromEntries(links.map(a => "
            "[a.dataset.queue, Number(a.querySelector('.count').dataset.count)]))"
        )
        assert shown == expected
        assert f"共 {sum(expected.values())} 项待办" in await page.locator("#status").inner_text()
        assert await _axe_findings(page) == []
        await page.screenshot(path=screenshot_path(f"workbench-morning{suffix}.png"), full_page=True)
        _keep(f"workbench-morning{suffix}.png")

    # a queue as a table: its total and first rows are the API's, earliest deadline first, overdue marked
    queue = max(expected, key=lambda q: expected[q])
    service = next(s for s in WORK_SERVICES if any(q["queue"] == queue for q in summaries[s]["queues"]))
    answer = _queue(web_platform, service, queue, page_size=20)
    assert answer["total"] > 0
    await page.locator(f'a[data-queue="{queue}"]').click()
    await wait_for_js(page, QUEUE_SHOWN)
    assert await page.locator("#status").inner_text() == f"共 {answer['total']} 项"
    rows = await page.locator("#items tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert rows == [item["id"] for item in answer["items"]]
    overdue = [item["id"] for item in answer["items"] if (item["days_overdue"] or 0) > 0]
    assert await page.locator("#items tbody tr.overdue").evaluate_all("rows => rows.map(r => r.dataset.id)") == overdue
    assert await _axe_findings(page) == []


async def test_a_filing_is_decided_by_a_second_officer_and_appears_in_the_public_directory(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    pending = [
        item
        for queue in ("filing_decisions_pending", "filing_decisions_overdue")
        for item in _queue(web_platform, "filing", queue)["items"]
        if item["district"]["code"] in ("440106", "440104")  # the districts with two demo officers
    ]
    assert pending, "the demo leaves filings awaiting a decision in 天河区 or 越秀区"
    item = pending[0]
    district = item["district"]["code"]
    institution = item["institution"]
    status, public = web_platform.get("filing", f"/v1/public/institutions/{institution['id']}/record")
    assert status == 404, "not public before it is filed"

    # the officer who submitted it (the demo's officer of the district) may not decide it
    submitter = await _signed_in(web_platform, pages, f"demo-officer-{district}", DESKTOP)
    item_page = _item_page(web_platform, "filing", "filing_decisions_pending", item)
    await _open(submitter, item_page)
    await submitter.get_by_label("予以备案").check()
    await submitter.get_by_role("button", name="提交决定").click()
    dialog = submitter.get_by_role("dialog")
    assert "予以备案" in await dialog.inner_text()
    await dialog.get_by_role("button", name="确认予以备案").click()
    alert = submitter.get_by_role("alert")
    await alert.wait_for()
    assert await alert.inner_text() == SelfDecision.message_zh
    assert await submitter.evaluate("document.activeElement.id") == "action-error"

    # the district's second officer decides it, from the morning list through the queue
    for suffix, size in SIZES:
        reviewer = await _signed_in(web_platform, pages, f"demo-reviewer-{district}", size)
        assert await reviewer.locator("#officer-districts").inner_text() in ("天河区", "越秀区")
        await _open(reviewer, item_page)
        assert institution["name"] in await reviewer.locator("h1").inner_text()
        assert await _axe_findings(reviewer) == []
        await reviewer.screenshot(path=screenshot_path(f"workbench-filing{suffix}.png"), full_page=True)
        _keep(f"workbench-filing{suffix}.png")
    await reviewer.close()

    reviewer = await _signed_in(web_platform, pages, f"demo-reviewer-{district}", DESKTOP)
    queue = "filing_decisions_overdue" if item["days_overdue"] else "filing_decisions_pending"
    await reviewer.locator(f'a[data-queue="{queue}"]').click()
    await wait_for_js(reviewer, QUEUE_SHOWN)
    await reviewer.locator(f'#items tr[data-id="{item["id"]}"] a').click()
    await wait_for_js(reviewer, ITEM_SHOWN)
    await reviewer.get_by_label("予以备案").check()
    await reviewer.get_by_role("button", name="提交决定").click()
    await reviewer.keyboard.press("Tab")  # from 取消 (focused first) to the confirmation
    await reviewer.keyboard.press("Enter")
    done = reviewer.locator("#action-done")
    await done.wait_for()
    assert "已作出决定：予以备案" in await done.inner_text()
    status, decided = web_platform.get("filing", f"/v1/institutions/{institution['id']}", "supervisor")
    assert decided["status"] == "filed"
    web_platform.institutions_filed_by_tests += 1

    # the public directory finds it by name
    await reviewer.goto(f"{web_platform.pages}/")
    await wait_for_js(reviewer, "document.body.dataset.ready")
    await reviewer.get_by_label("机构名称或统一社会信用代码", exact=True).fill(institution["name"])
    await reviewer.get_by_role("button", name="查询", exact=True).click()
    await wait_for_js(reviewer, "document.querySelector('#status').textContent.includes('家')")
    assert institution["name"] in await reviewer.locator("li.institution h3").all_inner_texts()


async def test_a_task_is_reviewed_and_its_result_is_public(web_platform: WebPlatform, pages: PageFactory) -> None:
    item = _a_submitted_task(web_platform)
    task_id = item["id"]
    institution_id = item["institution"]["id"]
    _, before = web_platform.get("inspection", f"/v1/public/inspection-results?institution={institution_id}")
    assert task_id not in [r["task_id"] for r in before["items"]]
    status, task = web_platform.get("inspection", f"/v1/tasks/{task_id}", "supervisor")
    assert status == 200
    assert task["status"] == "submitted"

    item_page = _item_page(web_platform, "inspection", "tasks_awaiting_review", item)
    for suffix, size in SIZES:
        page = await _signed_in(web_platform, pages, "demo-supervisor", size)
        await _open(page, item_page)
        assert item["institution"]["name"] in await page.locator("h1").inner_text()
        assert await page.locator("ul.violations li").count() == len(task["violations"])
        assert await _axe_findings(page) == []
        await page.screenshot(path=screenshot_path(f"workbench-task{suffix}.png"), full_page=True)
        _keep(f"workbench-task{suffix}.png")

    # the dialog can be dismissed (nothing is sent), then the review is confirmed
    await page.get_by_label("公开的检查摘要（选填）").fill("已对照检查清单逐项检查。")
    await page.get_by_role("button", name="审核并公开").click()
    await page.get_by_role("dialog").get_by_role("button", name="取消").click()
    assert await page.get_by_role("dialog").count() == 0
    assert await page.evaluate("document.activeElement.id") == "act", "focus returns to the button"
    status, still = web_platform.get("inspection", f"/v1/tasks/{task_id}", "supervisor")
    assert still["status"] == "submitted"
    was_filed = web_platform.filing_status(institution_id) == "filed"
    await page.get_by_role("button", name="审核并公开").click()
    await page.get_by_role("dialog").get_by_role("button", name="确认公开").click()
    done = page.locator("#action-done")
    await done.wait_for()
    web_platform.results_published_by_tests += 1
    web_platform.persons_banned_by_tests += [
        v["person_ref"] for v in task["violations"] if v.get("person_ref") and v["code"] == "CHILD_ABUSE"
    ]
    await web_platform.note_suspension(institution_id, was_filed, task["violations"])
    assert f"确认违规 {len(task['violations'])} 项" in await done.inner_text()

    # the public record of the institution shows the published result
    _, after = web_platform.get("inspection", f"/v1/public/inspection-results?institution={institution_id}")
    assert task_id in [r["task_id"] for r in after["items"]]
    await page.goto(f"{web_platform.pages}/institution.html?id={institution_id}")
    await wait_for_js(page, "document.body.dataset.ready")
    await page.locator(f"#inspection-{task_id}").wait_for()
    assert urlsplit(page.url).path.endswith("/institution.html")


async def test_a_rectification_report_is_recorded_from_a_queue_narrowed_to_one_district(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    due = _queue(web_platform, "inspection", "rectifications_due")["items"]
    assert due, "the demo's confirmed violations are within their rectification deadline"
    item = due[0]
    district = item["district"]
    in_district = _queue(web_platform, "inspection", "rectifications_due", district=district["code"], page_size=20)

    page = await _signed_in(web_platform, pages, "demo-supervisor", DESKTOP)
    await page.locator('a[data-queue="rectifications_due"]').click()
    await wait_for_js(page, QUEUE_SHOWN)
    await page.get_by_label("区", exact=True).select_option(label=district["name"])
    await wait_for_js(page, f"{STATUS}.total === '{in_district['total']}' && !document.querySelector('#items[hidden]')")
    rows = await page.locator("#items tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert rows == [i["id"] for i in in_district["items"]]
    assert set(await page.locator("#items tbody td:nth-child(2)").all_inner_texts()) == {district["name"]}

    await page.locator(f'#items tr[data-id="{item["id"]}"] a').click()
    await wait_for_js(page, ITEM_SHOWN)
    assert await _axe_findings(page) == []
    await page.get_by_role("button", name="登记整改报告").click()
    await page.get_by_role("dialog").get_by_role("button", name="确认登记").click()
    await page.locator("#action-done").wait_for()
    _, task = web_platform.get("inspection", item["link"], "supervisor")
    violation = next(v for v in task["violations"] if v["id"] == item["id"])
    assert violation["status"] == "rectification_reported"
    assert item["id"] not in [i["id"] for i in _queue(web_platform, "inspection", "rectifications_due")["items"]]


async def test_a_complaint_is_triaged_and_a_refusal_shows_the_api_message(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    _, filed = web_platform.get("filing", "/v1/public/institutions?page_size=1", "supervisor")
    about = filed["items"][0]
    complaint = {"institution_id": about["id"], "category": "fees", "description": "收费项目未公示，另收材料费。"}
    status, received = _call(web_platform, "POST", "inspection", "/v1/public/complaints", "", complaint)
    assert status == 201, received
    untriaged = _queue(web_platform, "inspection", "complaints_untriaged")["items"]
    item = next(i for i in untriaged if i["institution"] and i["institution"]["id"] == about["id"])

    # a public reply may not carry a mobile number: the service's own refusal, shown as it is
    refused_body = {"action": "close", "reason": "经核实收费已公示", "public_reply": "如有疑问请致电13800138000"}
    supervisor = web_platform.token("supervisor")
    status, refusal = _call(
        web_platform, "POST", "inspection", f"/v1/complaints/{item['id']}/triage", supervisor, refused_body
    )
    assert status == 422
    page = await _signed_in(web_platform, pages, "demo-supervisor", DESKTOP)
    await _open(page, _item_page(web_platform, "inspection", "complaints_untriaged", item))
    assert await _axe_findings(page) == []
    await page.get_by_label("不予立案，办结").check()
    await page.get_by_label("分办理由（内部）").fill(refused_body["reason"])
    await page.get_by_label("给投诉人的答复（选填）").fill(refused_body["public_reply"])
    await page.get_by_role("button", name="提交分办").click()
    await page.get_by_role("dialog").get_by_role("button", name="确认分办").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    problems = refusal["error"].get("errors") or [refusal["error"]]
    assert await alert.inner_text() == "；".join(e["message"] for e in problems)

    await page.get_by_label("给投诉人的答复（选填）").fill("经核实，该机构已在醒目位置公示收费项目。")
    await page.get_by_role("button", name="提交分办").click()
    await page.get_by_role("dialog").get_by_role("button", name="确认分办").click()
    await page.locator("#action-done").wait_for()
    _, triaged = web_platform.get("inspection", f"/v1/complaints/{item['id']}", "supervisor")
    assert triaged["action"] == "close"
    assert triaged["public_reply"] == "经核实，该机构已在醒目位置公示收费项目。"
