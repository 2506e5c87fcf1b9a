"""检查员移动端 (issue 21): the inspectors' offline-first app at /ui/inspector/, driven in headless
Chromium as a phone (390×844, touch, geolocation set at the site) against the whole platform.

* A whole inspection through the screens: sign-in (a pasted token), my tasks, the task and its
  institution, GPS check-in, the checklist by area with a note and a photo, a violation picked from
  the catalogue with the person involved and a photo, both signatures, the review status; the task
  opened again is answered 304. Each screen is photographed and scanned with axe-core.
* Offline in the middle of an inspection (Playwright's set_offline): findings and a violation with
  a photo are recorded, the page is reloaded, then the network comes back: exactly one violation,
  one finding per item and one stored photo on the server, exactly one violation event on Kafka.
"""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.error
import urllib.request
import uuid
import zlib
from typing import Any

from bench.inspection_wire import measure, report
from services.inspection.reference import checklist
from shared.topics import INSPECTION_EVENTS, qualified
from shared.workdays import china_today
from tests.support import read_topic
from tests.web.conftest import ARTIFACTS, PageFactory, WebPlatform, keep_for_docs, screenshot_path, wait_for_js
from tests.web.test_map import _axe_findings

ITEMS = list(checklist())[:4]
VIOLATION_RECORDED = "cn.gov.gz.childcare.inspection.violation.recorded.v1"


def _call(platform: WebPlatform, method: str, path: str, token: str, body: Any = None, **headers: str) -> Any:
    request = urllib.request.Request(
        platform.urls["inspection"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:400]!r}") from exc


def photo_png(width: int = 96, height: int = 64) -> bytes:
    """A real colour PNG, as a camera roll would hand it to the page."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes([(x * 3) % 256, (y * 4) % 256, 120]) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Team:
    def __init__(self, platform: WebPlatform) -> None:
        self.platform = platform
        run = uuid.uuid4().hex[:6]
        self.subjects = [f"web-inspector-{run}-a", f"web-inspector-{run}-b"]
        self.supervisor = platform.token("supervisor")
        pool = _call(platform, "GET", "/v1/target-institutions?district=440106", self.supervisor)
        target = pool["items"][0]
        ids = []
        for subject in self.subjects:
            inspector = _call(
                platform,
                "POST",
                "/v1/inspectors",
                self.supervisor,
                {
                    "subject": subject,
                    "name": f"检查员{subject[-1].upper()}",
                    "agency": "天河区卫生健康局",
                    "badge_number": f"GZ-{uuid.uuid4().hex[:10]}",
                    "districts": ["440106"],
                },
            )
            ids.append(inspector["id"])
        task = _call(
            platform,
            "POST",
            "/v1/targeted-inspections",
            self.supervisor,
            {
                "institution_id": target["institution_id"],
                "inspector_ids": ids,
                "reason": "complaint",
                "reason_detail": "家长投诉：午睡时段无人看护",
                "due_by": china_today().isoformat(),
                "checklist_items": ITEMS,
            },
        )
        self.task_id: str = task["id"]
        self.institution: dict[str, Any] = self.detail()["institution"]  # its filed location among the facts

    def token(self, member: int = 0) -> str:
        return self.platform.token("inspector", subject=self.subjects[member])

    def detail(self) -> Any:
        return _call(self.platform, "GET", f"/v1/tasks/{self.task_id}", self.supervisor)


async def _phone(pages: PageFactory, platform: WebPlatform, team: Team) -> Any:
    page = await pages(width=390, height=844, mobile=True)
    context = page.context
    origin = platform.urls["inspection"]
    await context.grant_permissions(["geolocation"], origin=origin)
    # on site: a few metres from the filed location
    await context.set_geolocation(
        {"latitude": team.institution["latitude"] + 0.0002, "longitude": team.institution["longitude"], "accuracy": 8}
    )
    await page.goto(f"{origin}/ui/inspector/")
    await wait_for_js(page, "document.body.dataset.ready === 'true'")
    return page


async def _sign_in(page: Any, token: str) -> None:
    await page.fill("#token", token)
    await page.click("text=使用此令牌登录")
    await page.wait_for_selector(".tabs")


async def _settled(page: Any) -> None:
    """Until no action is under way and the outbox is empty (every write answered)."""
    await wait_for_js(
        page, "document.body.dataset.busy === '0' && document.body.dataset.pending === '0'", within_ms=60_000
    )


async def _shot(page: Any, name: str, *, axe: bool = True) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(screenshot_path(name)), full_page=False)
    keep_for_docs(name)
    if axe:
        assert await _axe_findings(page) == [], name


async def _answer_checklist(page: Any, *, photo: bytes) -> None:
    for code in ITEMS[1:]:
        await page.check(f'input[name="r-{code}"][value="pass"]')
    failed = ITEMS[0]
    await page.fill(f"#n-{failed}", "消毒记录缺失两周")
    await page.check(f'input[name="r-{failed}"][value="fail"]')
    await page.set_input_files(
        f'input[data-action="photo"][data-item="{failed}"]',
        files=[{"name": "disinfection.png", "mimeType": "image/png", "buffer": photo}],
    )
    await page.wait_for_selector(f'li[data-item="{failed}"] .thumbs img')


async def _record_violation(page: Any, task_id: str, *, photo: bytes) -> None:
    await page.goto(page.url.split("#")[0] + f"#/task/{task_id}/violation")
    await page.wait_for_selector("#v-search")
    await page.fill("#v-search", "CHILD_ABUSE")
    await page.click('[data-code="CHILD_ABUSE"]')
    await page.wait_for_selector("#v-chosen .sev-critical")
    await page.fill("#v-description", "午睡时保育员拖拽幼儿手臂，监控可见")
    options = await page.locator("#v-person option").count()
    if options > 1:
        await page.select_option("#v-person", index=1)
    await page.set_input_files(
        'input[data-action="v-photo"]', files=[{"name": "cctv.png", "mimeType": "image/png", "buffer": photo}]
    )
    await page.wait_for_selector("#v-thumbs img")


async def _violation_events(platform: WebPlatform, task_id: str) -> list[dict[str, Any]]:
    records = await read_topic(platform.bootstrap, qualified(platform.namespace, INSPECTION_EVENTS))
    events = [json.loads(r.value) for r in records]
    return [e for e in events if e["type"] == VIOLATION_RECORDED and e["data"]["task_id"] == task_id]


def _stored_photos(platform: WebPlatform, team: Team, detail: Any) -> list[str]:
    hashes = [h for f in detail["findings"] for h in f["evidence_sha256"]]
    hashes += [h for v in detail["violations"] for h in v["evidence_sha256"]]
    for digest in hashes:
        request = urllib.request.Request(
            f"{platform.urls['inspection']}/v1/tasks/{team.task_id}/evidence/{digest}",
            headers={"Authorization": f"Bearer {team.supervisor}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"] == "image/jpeg"  # resized on the phone
            assert response.read()[:3] == b"\xff\xd8\xff"
    return hashes


async def test_a_whole_inspection_through_the_app(web_platform: WebPlatform, pages: PageFactory) -> None:
    team = Team(web_platform)
    page = await _phone(pages, web_platform, team)
    await _shot(page, "inspector-signin.png")
    await _sign_in(page, team.token(0))
    name = team.institution["name"]
    await page.wait_for_selector(f"text={name}")
    await _shot(page, "inspector-tasks.png")

    await page.click(f'a[href="#/task/{team.task_id}"]')
    await page.wait_for_selector("#h-checkin")
    assert name in await page.inner_text("#title")
    await page.click("text=获取位置并签到")
    await page.wait_for_selector('[data-action="checkin"]')
    assert "距机构登记地址约" in await page.inner_text("#gps-status")
    await page.click('[data-action="checkin"]')
    await _settled(page)
    await _shot(page, "inspector-task.png")

    await page.click(f'a[href="#/task/{team.task_id}/checklist"]')
    await page.wait_for_selector(".item")
    await _answer_checklist(page, photo=photo_png())
    await _settled(page)
    await _shot(page, "inspector-checklist.png")

    await _record_violation(page, team.task_id, photo=photo_png(80, 80))
    await _shot(page, "inspector-violation.png")
    await page.click("text=保存违规记录")
    await page.wait_for_selector("#h-violations")
    await _settled(page)

    await page.wait_for_selector('[data-action="submit"]:not([disabled])')
    await page.click('[data-action="submit"]')
    await _settled(page)
    # the second member signs from their own phone
    _call(web_platform, "POST", f"/v1/tasks/{team.task_id}/submit", team.token(1), {}, **{"Idempotency-Key": "b-1"})

    # a repeated open of an unchanged task costs a 304. The task may still change after the submit
    # (the institution's facts follow credit and filing through Kafka): a body is downloaded again
    # only when its content changed, and once it stops changing every open is answered 304.
    answers: list[tuple[int, str | None]] = []
    page.on(
        "response",
        lambda r: (
            answers.append((r.status, r.headers.get("etag"))) if r.url.endswith(f"/v1/tasks/{team.task_id}") else None
        ),
    )
    for _ in range(6):
        await page.goto(page.url.split("#")[0] + "#/tasks/done")
        await page.wait_for_selector(f'a[href="#/task/{team.task_id}"]')
        await page.click(f'a[href="#/task/{team.task_id}"]')
        await page.wait_for_selector("#review")
        await _settled(page)
        if len(answers) >= 3 and [status for status, _ in answers[-2:]] == [304, 304]:
            break
    statuses = [status for status, _ in answers]
    assert statuses[0] == 200, answers
    assert set(statuses) <= {200, 304}, answers
    # the same content is never downloaded twice: each later 200 carries a new ETag
    downloaded = [etag for status, etag in answers if status == 200]
    assert len(downloaded) == len(set(downloaded)), answers
    # and a 304 confirms the content the app last downloaded
    for i, (status, etag) in enumerate(answers):
        if status == 304:
            assert etag == [e for s, e in answers[:i] if s == 200][-1], answers
    assert statuses[-2:] == [304, 304], answers
    assert "检查组已全部签名提交，等待审核" in await page.inner_text("#review")

    detail = team.detail()
    assert detail["status"] == "submitted"
    assert len(detail["checkins"]) == 1
    assert detail["checkins"][0]["far_from_site"] is False
    assert {f["item_code"]: f["result"] for f in detail["findings"]} == {
        ITEMS[0]: "fail",
        **{c: "pass" for c in ITEMS[1:]},
    }
    assert [f["note"] for f in detail["findings"] if f["item_code"] == ITEMS[0]] == ["消毒记录缺失两周"]
    assert [(v["code"], v["severity"]) for v in detail["violations"]] == [("CHILD_ABUSE", "critical")]
    assert len(_stored_photos(web_platform, team, detail)) == 2

    was_filed = web_platform.filing_status(team.institution["institution_id"]) == "filed"
    _call(web_platform, "POST", f"/v1/tasks/{team.task_id}/review", team.supervisor, {"dismissed_violation_ids": []})
    web_platform.results_published_by_tests += 1
    web_platform.persons_banned_by_tests += [
        v["person_ref"] for v in detail["violations"] if v.get("person_ref") and v["code"] == "CHILD_ABUSE"
    ]
    await web_platform.note_suspension(team.institution["institution_id"], was_filed, detail["violations"])
    await page.reload()
    await wait_for_js(page, "document.body.dataset.ready === 'true'")
    await wait_for_js(page, "(document.getElementById('review') || {textContent: ''}).textContent.includes('公示：')")
    assert "已审核" in await page.inner_text("#review")
    await _shot(page, "inspector-review.png")
    assert len(await _violation_events(web_platform, team.task_id)) == 1


async def test_offline_mid_inspection_then_back_online(web_platform: WebPlatform, pages: PageFactory) -> None:
    team = Team(web_platform)
    page = await _phone(pages, web_platform, team)
    await _sign_in(page, team.token(0))
    await page.click(f'a[href="#/task/{team.task_id}"]')
    await page.wait_for_selector("#h-checkin")
    await page.goto(page.url.split("#")[0] + f"#/task/{team.task_id}/violation")
    await page.wait_for_selector("[data-code]")  # the catalogue is on the phone now
    # the service worker controls the page: the app opens without a network
    await wait_for_js(page, "navigator.serviceWorker.controller !== null")

    await page.context.set_offline(True)
    await page.goto(page.url.split("#")[0] + f"#/task/{team.task_id}/checklist")
    await page.wait_for_selector(".item")
    await _answer_checklist(page, photo=photo_png())
    await _record_violation(page, team.task_id, photo=photo_png(80, 80))
    await page.click("text=保存违规记录")
    await page.wait_for_selector("#h-violations")
    await page.wait_for_selector(".violation .pending-tag")
    await _shot(page, "inspector-offline.png")

    # something half typed, then the page is reloaded (or the tab killed) while offline
    await page.goto(page.url.split("#")[0] + f"#/task/{team.task_id}/violation")
    await page.fill("#v-description", "另一处：消防通道堆放杂物（未写完")
    await page.reload()
    await wait_for_js(page, "document.body.dataset.ready === 'true'")  # the shell from the service worker
    await page.wait_for_selector("#v-description")
    assert await page.input_value("#v-description") == "另一处：消防通道堆放杂物（未写完"
    pending = int(await page.get_attribute("body", "data-pending") or 0)
    assert pending >= 1 + len(ITEMS) + 1  # two photos, the findings and the violation, all still queued
    await page.goto(page.url.split("#")[0] + "#/sync")
    await page.wait_for_selector(".outbox li")
    await _shot(page, "inspector-sync.png")

    # nothing reached the service while offline
    assert team.detail()["violations"] == []
    assert team.detail()["findings"] == []

    await page.context.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await _settled(page)
    detail = team.detail()
    assert [v["code"] for v in detail["violations"]] == ["CHILD_ABUSE"]
    assert sorted(f["item_code"] for f in detail["findings"]) == sorted(ITEMS)
    assert len(_stored_photos(web_platform, team, detail)) == 2
    events: list[dict[str, Any]] = []
    for _ in range(50):  # the outbox relay publishes within a moment
        events = await _violation_events(web_platform, team.task_id)
        if events:
            break
        await asyncio.sleep(0.2)
    assert [e["data"]["code"] for e in events] == ["CHILD_ABUSE"]


def test_bytes_over_the_wire_for_one_inspection(web_platform: WebPlatform) -> None:
    """bench/inspection_wire.py against the running services: one whole inspection (70 checklist
    items) as a phone makes it, without and with gzip and ETags."""
    figures = measure(
        web_platform.urls["inspection"], lambda subject, *roles: web_platform.token(*roles, subject=subject)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "inspection-wire.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    (ARTIFACTS / "inspection-wire.txt").write_text(report(figures) + "\n")
    before, after = figures["before"], figures["after"]
    statuses = [c["status"] for c in after["calls"]]
    # the task opened again unchanged, and the catalogue opened again: 304 without a body
    assert statuses.count(304) >= 2
    assert [c["status"] for c in before["calls"]].count(304) == 0
    assert after["received"] * 3 < before["received"]


async def test_a_write_refused_after_a_reassignment_is_shown_with_what_to_do(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    team = Team(web_platform)
    page = await _phone(pages, web_platform, team)
    await _sign_in(page, team.token(0))
    await page.click(f'a[href="#/task/{team.task_id}"]')
    await page.wait_for_selector("#h-checkin")
    await page.goto(page.url.split("#")[0] + f"#/task/{team.task_id}/checklist")
    await page.wait_for_selector(".item")
    await page.context.set_offline(True)
    await page.check(f'input[name="r-{ITEMS[0]}"][value="pass"]')
    await wait_for_js(page, "document.body.dataset.busy === '0' && document.body.dataset.pending === '1'")

    # meanwhile the supervisor gives the task to another team
    replacement = _call(
        web_platform,
        "POST",
        "/v1/inspectors",
        team.supervisor,
        {
            "subject": f"web-inspector-{uuid.uuid4().hex[:6]}-c",
            "name": "检查员C",
            "agency": "天河区卫生健康局",
            "badge_number": f"GZ-{uuid.uuid4().hex[:10]}",
            "districts": ["440106"],
        },
    )
    members = [m["inspector_id"] for m in team.detail()["members"]]
    _call(
        web_platform,
        "PUT",
        f"/v1/tasks/{team.task_id}/team",
        team.supervisor,
        {"inspector_ids": [members[1], replacement["id"]]},
    )

    await page.context.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await wait_for_js(page, "document.getElementById('sync-banner').dataset.conflicts === '1'")
    await page.goto(page.url.split("#")[0] + "#/sync")
    await page.wait_for_selector(".outbox li.conflict")
    shown = await page.inner_text(".outbox li.conflict")
    assert "您已被移出该任务的检查组" in shown
    assert "丢弃" in shown
    await _shot(page, "inspector-conflict.png")
    assert team.detail()["findings"] == []

    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("text=丢弃这条")
    await _settled(page)
    await page.wait_for_selector("text=所有记录都已提交")
