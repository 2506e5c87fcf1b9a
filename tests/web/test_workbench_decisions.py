"""The workbench's item pages of two more decisions in Chromium, signed in through the real OpenID
Connect provider (devstack/oidc/): a key-field change (变更) and a credit repair (信用修复). Each is
made pending through the services' APIs as the first officer (the change requested by the district's
filing officer; the repair applied for by a credit officer after the violation's rectification was
verified by a follow-up inspection), refused on its page to that same officer with the API's Chinese
message (四眼原则, shared/duties.py), and decided on its page by the second: the effect is then what
the APIs answer (the institution's address changed and public; the entry repaired and the score
raised) and what the page says. A suspension (暂停收托) is ended the same way: proposed on its page by
the first officer, confirmed by the second. axe-core finds nothing serious; screenshots go to
docs/screenshots/workbench-change*.png, workbench-repair*.png and workbench-suspension*.png."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from services.credit.errors import RepairSelfDecision
from services.filing.institutions.errors import SelfDecision
from services.filing.suspension.errors import SuspensionSelfDecision
from shared.auth import mint_token
from tests.web.conftest import PageFactory, WebPlatform, screenshot_path, wait_for_js
from tests.web.test_map import _axe_findings
from tests.web.test_workbench import DESKTOP, SIZES, _call, _item_page, _keep, _open, _queue, _signed_in

DISTRICT = "440106"  # the district with a filing officer and a second one (devstack/oidc/accounts.json)
REQUESTER = f"demo-officer-{DISTRICT}"
REVIEWER = f"demo-reviewer-{DISTRICT}"
CREDIT_APPLICANT = "demo-credit-officer"
CREDIT_REVIEWER = "demo-credit-reviewer"


async def _until(what: str, check: Callable[[], bool], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.3)


def _as(web_platform: WebPlatform, subject: str, role: str, districts: list[str] | None = None) -> str:
    """A development token of the same subject as the provider's account (its ``sub``)."""
    return mint_token(web_platform.token_settings, subject=subject, roles=[role], districts=districts)


async def _refused_to_the_first_officer(
    web_platform: WebPlatform, pages: PageFactory, account: str, item_page: str, decide: Callable[[Any], Any]
) -> str:
    page = await _signed_in(web_platform, pages, account, DESKTOP)
    await _open(page, item_page)
    await decide(page)
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert await page.evaluate("document.activeElement.id") == "action-error"
    text: str = await alert.inner_text()
    await page.close()
    return text


async def test_a_key_field_change_is_decided_by_a_second_officer_and_is_public(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    _, filed = web_platform.get("filing", "/v1/institutions?status=filed&page_size=100", "supervisor")
    candidates = [i for i in filed["items"] if i["district_code"] == DISTRICT]
    requester = _as(web_platform, REQUESTER, "filing_officer", [DISTRICT])
    new_address = f"广州市天河区工作台测试路{uuid.uuid4().int % 900 + 100}号"
    change: dict[str, Any] | None = None
    for institution in reversed(candidates):  # the demo's own changes, if any, are on the first ones
        path = f"/v1/institutions/{institution['id']}/changes"
        status, answer = _call(web_platform, "POST", "filing", path, requester, {"address": new_address})
        if status == 200 and answer["pending_change"]:
            change = answer
            break
        assert status == 409, answer  # only an institution with a change pending already is passed over
    assert change is not None, "a filed institution in 天河区 without a pending change"
    institution = change["institution"]
    change_id = change["pending_change"]["change_id"]
    assert change["applied_fields"] == []
    item = next(i for i in _queue(web_platform, "filing", "filing_changes_pending")["items"] if i["id"] == change_id)
    assert item["kind"] == "change"
    assert item["action"]["code"] == "decide_change"
    item_page = _item_page(web_platform, "filing", "filing_changes_pending", item)

    async def approve(page: Any) -> None:
        await page.get_by_label("予以变更备案").check()
        await page.get_by_role("button", name="提交决定").click()
        dialog = page.get_by_role("dialog")
        assert "变更申请" in await dialog.inner_text()
        await dialog.get_by_role("button", name="确认予以变更备案").click()

    # the officer who requested it may not decide it: the service's own message
    refusal = await _refused_to_the_first_officer(web_platform, pages, REQUESTER, item_page, approve)
    assert refusal == SelfDecision.message_zh
    status, still = web_platform.get("filing", f"/v1/institutions/{institution['id']}", "supervisor")
    assert still["pending_change"]["change_id"] == change_id

    # the second officer: the page shows the institution and the change asked for
    opened: dict[str, Any] = {}
    for suffix, size in SIZES:
        page = await _signed_in(web_platform, pages, REVIEWER, size)
        await _open(page, item_page)
        assert await page.locator("h1").inner_text() == f"变更决定：{institution['name']}"
        requested = page.get_by_role("region", name="申请变更事项")
        assert "地址" in await requested.inner_text()
        assert new_address in await requested.inner_text()
        assert await _axe_findings(page) == []
        await page.screenshot(path=screenshot_path(f"workbench-change{suffix}.png"), full_page=True)
        _keep(f"workbench-change{suffix}.png")
        opened[suffix] = page
    await opened["-phone"].close()

    page = opened[""]
    await approve(page)
    done = page.locator("#action-done")
    await done.wait_for()
    assert await done.inner_text() == "已作出决定：予以变更备案（当前状态：已备案）"

    # the effect: the change applied, nothing pending, off the queue, and public
    status, decided = web_platform.get("filing", f"/v1/institutions/{institution['id']}", "supervisor")
    assert status == 200
    assert decided["address"] == new_address
    assert decided["pending_change"] is None
    assert change_id not in [i["id"] for i in _queue(web_platform, "filing", "filing_changes_pending")["items"]]
    status, public = web_platform.get("filing", f"/v1/public/institutions/{institution['id']}/record")
    assert status == 200
    assert public["address"] == new_address
    await _open(page, item_page)
    assert await page.locator("#status").inner_text() == "该事项已办结。"
    await page.goto(f"{web_platform.pages}/institution.html?id={institution['id']}")
    await wait_for_js(page, "document.body.dataset.ready")
    assert new_address in await page.locator("#facts").inner_text()


# --- a credit repair ---------------------------------------------------------------------------------


def _upload_evidence(web_platform: WebPlatform, entry_id: str, token: str) -> str:
    request = urllib.request.Request(
        f"{web_platform.urls['credit']}/v1/credit/entries/{entry_id}/evidence",
        method="POST",
        data="%PDF-1.4\n% 工作台测试：整改报告及公示照片\n%%EOF\n".encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return str(json.loads(response.read())["sha256"])
    except urllib.error.HTTPError as exc:
        raise AssertionError(exc.read().decode()) from exc


def _inspect(web_platform: WebPlatform, task_id: str, review: dict[str, Any], finding: dict[str, str] | None) -> None:
    """The task's team checks in on site, passes every checklist item (reports ``finding`` if given)
    and signs; the supervisor reviews it with ``review``, which publishes its result (一公开)."""
    _, pool = web_platform.get("inspection", "/v1/inspectors", "supervisor")
    subjects = {i["id"]: i["subject"] for i in pool["items"]}
    _, task = web_platform.get("inspection", f"/v1/tasks/{task_id}", "supervisor")
    place = task["institution"]
    tokens = [_as(web_platform, subjects[m["inspector_id"]], "inspector") for m in task["members"]]
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
    if finding:
        status, answer = _call(
            web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/violations", tokens[0], finding
        )
        assert status in (200, 201), answer
    for token in tokens:
        status, answer = _call(web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/submit", token)
        assert status in (200, 201), answer
    supervisor = web_platform.token("supervisor")
    status, answer = _call(web_platform, "POST", "inspection", f"/v1/tasks/{task_id}/review", supervisor, review)
    assert status == 200, answer
    web_platform.results_published_by_tests += 1


def _targeted(web_platform: WebPlatform, institution_id: str, team: list[str], **extra: Any) -> str:
    body = {
        "institution_id": institution_id,
        "inspector_ids": team,
        "reason_detail": "工作台测试：定向检查",
        "due_by": (date.today() + timedelta(days=7)).isoformat(),
        "reason": "other",
        **extra,
    }
    status, task = _call(
        web_platform, "POST", "inspection", "/v1/targeted-inspections", web_platform.token("supervisor"), body
    )
    assert status == 201, task
    return str(task["id"])


def _entry_of(record: dict[str, Any], violation: dict[str, Any], known: frozenset[str] = frozenset()) -> Any:
    """The credit record's line of ``violation``: the one counting minor-violation line with the
    violation's legal basis and no repair (none when that is ambiguous), leaving out ``known`` lines."""
    repaired = {r["entry_id"] for r in record["repairs"]}
    lines = [
        line
        for line in record["lines"]
        if line.get("rule_id") == "violation.minor"
        and line["status"] == "counting"
        and line.get("legal_basis") == violation["legal_basis"]
        and line["entry_id"] not in repaired | known
    ]
    return lines[0] if len(lines) == 1 else None


async def _a_minor_violation_to_repair(
    web_platform: WebPlatform,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(task, violation, credit line) of a confirmed minor violation (repairable at once) whose entry
    has no repair yet: one of the demo's, else one found here by a targeted inspection."""
    seen = set()
    for queue in ("follow_ups_due", "rectifications_due"):
        for item in reversed(_queue(web_platform, "inspection", queue)["items"]):
            _, task = web_platform.get("inspection", item["link"], "supervisor")
            violation = next((v for v in task["violations"] if v["id"] == item["id"]), None)
            if violation is None or violation["severity"] != "minor" or violation["id"] in seen:
                continue
            seen.add(violation["id"])
            path = f"/v1/credit/institutions/{violation['institution_id']}"
            status, record = web_platform.get("credit", path, "supervisor")
            line = _entry_of(record, violation) if status == 200 else None
            if line:
                return task, violation, line
    # none left in the demo: inspect a filed institution of a district with two inspectors
    _, pool = web_platform.get("inspection", "/v1/inspectors", "supervisor")
    _, filed = web_platform.get("filing", "/v1/institutions?status=filed&page_size=100", "supervisor")
    for institution in reversed(filed["items"]):
        team = [i["id"] for i in pool["items"] if i["active"] and institution["district_code"] in i["districts"]][:2]
        if len(team) == 2:
            break
    credit_path = f"/v1/credit/institutions/{institution['id']}"
    status, before = web_platform.get("credit", credit_path, "supervisor")
    known = frozenset(x["entry_id"] for x in before["lines"] if x.get("entry_id")) if status == 200 else frozenset()
    task_id = _targeted(web_platform, institution["id"], team)
    finding = {"code": "DISCLOSURE_INCOMPLETE", "description": f"工作台测试：未公示收费项目{uuid.uuid4().hex[:6]}"}
    _inspect(web_platform, task_id, {"dismissed_violation_ids": []}, finding)
    _, task = web_platform.get("inspection", f"/v1/tasks/{task_id}", "supervisor")
    [violation] = task["violations"]
    found: dict[str, Any] = {}

    def recorded() -> bool:
        status, record = web_platform.get("credit", credit_path, "supervisor")
        found["line"] = _entry_of(record, violation, known) if status == 200 else None
        return found["line"] is not None

    await _until("the confirmed violation in the credit record", recorded)
    return task, violation, dict(found["line"])


async def test_a_credit_repair_is_decided_by_a_second_credit_officer(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    task, violation, line = await _a_minor_violation_to_repair(web_platform)
    institution_id = violation["institution_id"]
    credit_path = f"/v1/credit/institutions/{institution_id}"

    # the institution's rectification report, verified by a follow-up inspection of the same team
    supervisor = web_platform.token("supervisor")
    if violation["status"] == "confirmed":
        report = f"/v1/violations/{violation['id']}/rectification"
        status, answer = _call(web_platform, "POST", "inspection", report, supervisor, {"evidence_sha256": []})
        assert status in (200, 201), answer
    _, before = web_platform.get("credit", credit_path, "supervisor")
    rectified_before = sum(1 for x in before["lines"] if x.get("rule_id") == "violation.rectified")
    follow_up = _targeted(
        web_platform,
        institution_id,
        [m["inspector_id"] for m in task["members"]],
        reason="follow_up",
        follow_up_of=violation["id"],
    )
    _inspect(web_platform, follow_up, {"follow_up_rectified": True}, None)
    _, closed_task = web_platform.get("inspection", f"/v1/tasks/{task['id']}", "supervisor")
    assert next(v for v in closed_task["violations"] if v["id"] == violation["id"])["status"] == "closed"

    def credit_knows_the_closure() -> bool:
        _, record = web_platform.get("credit", credit_path, "supervisor")
        return sum(1 for x in record["lines"] if x.get("rule_id") == "violation.rectified") > rectified_before

    await _until("credit reads the verified rectification", credit_knows_the_closure)

    # the first credit officer applies, with the evidence uploaded for the entry
    applicant = _as(web_platform, CREDIT_APPLICANT, "credit_officer")
    evidence = _upload_evidence(web_platform, line["entry_id"], applicant)
    application = {
        "entry_id": line["entry_id"],
        "evidence_sha256": [evidence],
        "commitment": "本机构已完整公示收费等信息，承诺持续依法公示。",
    }
    status, repair = _call(web_platform, "POST", "credit", "/v1/credit/repairs", applicant, application)
    assert status == 201, repair
    item = next(i for i in _queue(web_platform, "credit", "repairs_pending")["items"] if i["id"] == repair["id"])
    assert item["kind"] == "credit_repair"
    assert item["action"]["code"] == "decide_repair"
    item_page = _item_page(web_platform, "credit", "repairs_pending", item)
    _, record = web_platform.get("credit", credit_path, "supervisor")
    score_before = record["score"]

    async def approve(page: Any) -> None:
        await page.get_by_label("准予修复").check()
        await page.get_by_label("决定理由").fill("已整改到位并经复查确认，符合轻微失信信息修复条件")
        await page.get_by_role("button", name="提交决定").click()
        await page.get_by_role("dialog").get_by_role("button", name="确认准予修复").click()

    refusal = await _refused_to_the_first_officer(web_platform, pages, CREDIT_APPLICANT, item_page, approve)
    assert refusal == RepairSelfDecision.message_zh
    _, still = web_platform.get("credit", f"/v1/credit/repairs/{repair['id']}", "supervisor")
    assert still["status"] == "pending"

    # the second credit officer: the page names the institution, the entry and the score now
    opened: dict[str, Any] = {}
    for suffix, size in SIZES:
        page = await _signed_in(web_platform, pages, CREDIT_REVIEWER, size)
        await _open(page, item_page)
        assert await page.locator("h1").inner_text() == f"信用修复决定：{record['display_name']}"
        facts = await page.locator("#details").inner_text()
        assert line["rule_title"] in facts
        assert f"{score_before} 分" in facts
        assert await _axe_findings(page) == []
        await page.screenshot(path=screenshot_path(f"workbench-repair{suffix}.png"), full_page=True)
        _keep(f"workbench-repair{suffix}.png")
        opened[suffix] = page
    await opened["-phone"].close()

    page = opened[""]
    await approve(page)
    done = page.locator("#action-done")
    await done.wait_for()

    # the effect: approved by the second officer, the entry repaired (no longer counting), the score
    # raised by the entry's points, off the queue; the page says the score the record now has
    _, decided = web_platform.get("credit", f"/v1/credit/repairs/{repair['id']}", "supervisor")
    assert decided["status"] == "approved"
    assert (decided["applied_by"], decided["decided_by"]) == (CREDIT_APPLICANT, CREDIT_REVIEWER)
    _, after = web_platform.get("credit", credit_path, "supervisor")
    repaired = next(x for x in after["lines"] if x.get("entry_id") == line["entry_id"])
    assert repaired["status"] == "repaired"
    assert repaired["points"] == 0
    assert after["score"] == score_before - line["points"]
    assert (
        await done.inner_text()
        == f"已作出决定：准予修复。当前信用分 {after['score']} 分（{after['grade']} 级，{after['grade_title']}）。"
    )
    assert repair["id"] not in [i["id"] for i in _queue(web_platform, "credit", "repairs_pending")["items"]]
    await _open(page, item_page)
    assert await page.locator("#status").inner_text() == "该申请已作出决定。"


async def test_a_staff_item_page_shows_what_is_due_without_the_clear_id_number(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    """A principal short of training hours (the demo's 天河区 rosters): the district's filing officer
    sees the role, the hours and the masked ID number — never the clear number, which the staff
    detail answer would give that officer but the page does not need."""
    items = _queue(web_platform, "filing", "staff_training_below_requirement")["items"]
    item = next(i for i in items if i["district"]["code"] == DISTRICT)
    assert item["kind"] == "staff_training"
    officer = _as(web_platform, REQUESTER, "filing_officer", [DISTRICT])
    status, member = _call(web_platform, "GET", "filing", item["link"], officer)
    assert status == 200, member
    assert member["id_number"], "the district's officer may read the clear number from the API"

    page = await _signed_in(web_platform, pages, REQUESTER, DESKTOP)
    await _open(page, _item_page(web_platform, "filing", "staff_training_below_requirement", item))
    assert await page.locator("h1").inner_text() == "培训学时不足"
    shown = await page.locator("#details").inner_text()
    assert f"{member['training_hours']:g} 学时" in shown
    assert member["role_zh"] in shown
    assert member["id_masked"] in shown
    assert member["id_number"] not in await page.content()
    assert await _axe_findings(page) == []
    await page.close()


# --- a suspension (暂停收托) ended by two filing officers ---------------------------------------------


async def test_a_suspension_is_ended_by_a_second_officer_and_the_institution_is_listed_again(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    """The demo's child-abuse case suspends an institution in 天河区: the district's officer proposes
    恢复收托 on its item page, may not confirm that proposal (the API's message, 四眼原则), and the
    district's second officer confirms it: the institution is filed again and the public directory's
    default search finds it."""
    by_tests = web_platform.institutions_suspended_by_tests
    items = [
        i
        for i in _queue(web_platform, "filing", "filings_suspended")["items"]
        if i["district"]["code"] == DISTRICT and i["institution"]["id"] not in by_tests
    ]
    assert len(items) == 1, "the demo city's one suspended institution is in 天河区 (besides those tests suspended)"
    [item] = items
    assert item["kind"] == "suspension"
    assert item["action"]["code"] == "decide_suspension"
    institution = item["institution"]
    _, suspension = web_platform.get("filing", item["link"], "supervisor")
    assert suspension["institution_status"] == "suspended"
    assert suspension["proposed_outcome"] is None
    _, listed = web_platform.get("filing", f"/v1/public/institutions?q={quote(institution['name'])}")
    assert institution["id"] not in [i["id"] for i in listed["items"]], "a suspended institution is not listed"
    item_page = _item_page(web_platform, "filing", "filings_suspended", item)
    reason = "经调查整改到位，涉事人员已依法处理，机构已完成安全整改并经复查合格"

    # the district's officer proposes 恢复收托 on the page
    page = await _signed_in(web_platform, pages, REQUESTER, DESKTOP)
    await _open(page, item_page)
    assert await page.locator("h1").inner_text() == f"暂停收托处理：{institution['name']}"
    facts = await page.get_by_role("region", name="暂停收托").inner_text()
    assert suspension["reason"] in facts
    assert suspension["legal_basis"] in facts
    assert f"{suspension['case_count']} 起（确认日期：" in facts, "every confirmed case of the suspension"
    await page.get_by_label("恢复收托").check()
    await page.get_by_label("理由").fill(reason)
    await page.get_by_role("button", name="提出意见").click()
    dialog = page.get_by_role("dialog")
    assert "另一名备案人员确认" in await dialog.inner_text()
    await dialog.get_by_role("button", name="确认提出恢复收托意见").click()
    done = page.locator("#action-done")
    await done.wait_for()
    assert await done.inner_text() == "已提出意见：恢复收托，待本辖区另一名备案人员确认。"
    await page.close()
    _, proposed = web_platform.get("filing", item["link"], "supervisor")
    assert (proposed["proposed_outcome"], proposed["proposal_reason"]) == ("resume", reason)
    assert proposed["proposed_by"] == REQUESTER
    assert proposed["institution_status"] == "suspended"

    async def confirm(page: Any) -> None:
        await page.get_by_role("button", name="确认决定").click()
        dialog = page.get_by_role("dialog")
        assert "恢复为已备案状态" in await dialog.inner_text()
        await dialog.get_by_role("button", name="确认恢复收托").click()

    # the officer who proposed it is not offered the confirmation: the page says it awaits another officer
    page = await _signed_in(web_platform, pages, REQUESTER, DESKTOP)
    await _open(page, item_page)
    await page.get_by_role("region", name="待确认的处理意见").wait_for()
    assert "待本辖区另一名备案人员确认" in await page.locator("#status").inner_text()
    assert await page.get_by_role("button", name="确认决定").count() == 0
    await page.close()
    # and the API refuses the proposer's own confirmation all the same: the service's own message
    proposer = _as(web_platform, REQUESTER, "filing_officer", [DISTRICT])
    status, refused = _call(web_platform, "POST", "filing", f"{item['link']}/decision", proposer, {"outcome": "resume"})
    assert status == 403, refused
    assert refused["error"]["code"] == "suspension_self_decision"
    assert refused["error"]["message"] == SuspensionSelfDecision.message_zh
    _, still = web_platform.get("filing", item["link"], "supervisor")
    assert (still["institution_status"], still["decided_at"]) == ("suspended", None)

    # the second officer: the page shows the suspension and the proposal waiting for confirmation
    opened: dict[str, Any] = {}
    for suffix, size in SIZES:
        page = await _signed_in(web_platform, pages, REVIEWER, size)
        await _open(page, item_page)
        waiting = await page.get_by_role("region", name="待确认的处理意见").inner_text()
        assert "恢复收托" in waiting
        assert reason in waiting
        # one who disagrees may replace the proposal instead, beside the confirmation
        assert await page.get_by_role("button", name="提出新意见").count() == 1
        assert await _axe_findings(page) == []
        await page.screenshot(path=screenshot_path(f"workbench-suspension{suffix}.png"), full_page=True)
        _keep(f"workbench-suspension{suffix}.png")
        opened[suffix] = page
    await opened["-phone"].close()

    page = opened[""]
    await confirm(page)
    done = page.locator("#action-done")
    await done.wait_for()
    assert await done.inner_text() == "已作出决定：恢复收托（当前状态：已备案）"

    # the effect: filed again, decided by the two officers, off the queue, listed by default again
    _, decided = web_platform.get("filing", item["link"], "supervisor")
    assert (decided["institution_status"], decided["outcome"]) == ("filed", "resume")
    assert decided["decided_by"] == REVIEWER
    _, record = web_platform.get("filing", f"/v1/institutions/{institution['id']}", "supervisor")
    assert record["status"] == "filed"
    web_platform.institutions_filed_by_tests += 1
    assert institution["id"] not in [i["id"] for i in _queue(web_platform, "filing", "filings_suspended")["items"]]
    _, listed = web_platform.get("filing", f"/v1/public/institutions?q={quote(institution['name'])}")
    assert institution["id"] in [i["id"] for i in listed["items"]]
    await _open(page, item_page)
    assert await page.locator("#status").inner_text() == "该事项已办结：恢复收托。"
    await page.close()
