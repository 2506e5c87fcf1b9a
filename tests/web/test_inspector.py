"""检查员移动端 (issue 21): the inspectors' offline-first app at /ui/inspector/, driven in headless
Chromium as a phone (390×844, touch, geolocation set at the site) against the whole platform.

* A whole inspection through the screens: sign-in (a pasted token), my tasks, the task and its
  institution, GPS check-in, the checklist by area with a note and a photo, a violation picked from
  the catalogue with the person involved and a photo, both signatures, the review status; the task
  opened again is answered 304. Each screen is photographed and scanned with axe-core.
* Offline in the middle of an inspection (Playwright's set_offline): findings and a violation with
  a photo are recorded, the page is reloaded, then the network comes back: exactly one violation,
  one finding per item and one stored photo on the server, exactly one violation event on Kafka.
* 任务地图: my tasks' sites on the public map's Leaflet and district boundaries, with the phone's
  position; a tap on a marker opens the task; offline, from the service worker's cache.
* A check-in far from the site (asked to confirm, recorded far_from_site) and a queued write the
  service refuses with 409 because the task was submitted meanwhile.
* The sign-in through the local OpenID Connect provider (devstack/oidc) as the demo inspector.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
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
from tests.web.conftest import (
    ARTIFACTS,
    WEB,
    PageFactory,
    WebPlatform,
    keep_for_docs,
    screenshot_path,
    wait_for_js,
)
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
    def __init__(self, platform: WebPlatform, *, first: str | None = None) -> None:
        """Two inspectors on a targeted task due today; ``first``: an inspector already in the pool
        (its subject) as the first member."""
        self.platform = platform
        run = uuid.uuid4().hex[:6]
        self.subjects = [first or f"web-inspector-{run}-a", f"web-inspector-{run}-b"]
        self.supervisor = platform.token("supervisor")
        pool = _call(platform, "GET", "/v1/target-institutions?district=440106", self.supervisor)
        target = pool["items"][0]
        ids = []
        known = {i["subject"]: i["id"] for i in _call(platform, "GET", "/v1/inspectors", self.supervisor)["items"]}
        for subject in self.subjects:
            if subject in known:
                ids.append(known[subject])
                continue
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


async def _phone(pages: PageFactory, platform: WebPlatform, team: Team, *, away_deg: float = 0.0002) -> Any:
    """The app on a phone ``away_deg`` degrees of latitude north of the task's site (a few metres)."""
    page = await pages(width=390, height=844, mobile=True)
    context = page.context
    origin = platform.urls["inspection"]
    await context.grant_permissions(["geolocation"], origin=origin)
    await context.set_geolocation(
        {"latitude": team.institution["latitude"] + away_deg, "longitude": team.institution["longitude"], "accuracy": 8}
    )
    # the deployment's provider (assets/config.js would name it); ./dev run's default port is not the tests'
    await page.context.add_init_script(f"window.CHILDCARE_OIDC = {json.dumps({'issuer': platform.oidc_issuer})};")
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


async def _shot_at(page: Any, selector: str, name: str) -> None:
    """A screenshot with ``selector`` at the top of the screen (a section below the fold)."""
    # below the sticky title bar (and the banner, if any)
    scroll = "(s) => window.scrollTo(0, document.querySelector(s).getBoundingClientRect().top + window.scrollY - 110)"
    await page.evaluate(scroll, selector)
    await page.screenshot(path=str(screenshot_path(name)), full_page=False)
    keep_for_docs(name)
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

    # 任务地图: the task's site on the district map, the phone's position beside it; a tap opens the task
    await page.click('.views a[href="#/tasks/map"]')
    await wait_for_js(page, "(document.getElementById('task-map') || {dataset: {}}).dataset.position === 'shown'")
    assert await page.get_attribute("#task-map", "data-markers") == "1"
    assert await page.locator("#task-map path.district-boundary").count() == 11  # the public map's boundaries
    marker = page.locator(f'.task-marker-today[title="今日：{name}"]')
    assert await marker.count() == 1
    assert await page.locator(f'.tasks a[href="#/task/{team.task_id}"]').count() == 1  # the list stays
    await _shot(page, "inspector-tasks-map.png")
    await marker.click()
    await page.wait_for_selector("#h-checkin")
    assert await page.evaluate("location.hash") == f"#/task/{team.task_id}"
    await page.goto(page.url.split("#")[0] + "#/tasks")
    await page.wait_for_selector(f'a[href="#/task/{team.task_id}"]')

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
    await _shot_at(page, "#h-team", "inspector-sign.png")
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
    # 任务地图 from the service worker's cache (Leaflet, the boundaries) and the phone's copy of the tasks
    await page.goto(page.url.split("#")[0] + "#/tasks/map")
    await wait_for_js(page, "(document.getElementById('task-map') || {dataset: {}}).dataset.markers === '1'")
    assert await page.locator("#task-map path.district-boundary").count() == 11
    assert "离线" in await page.inner_text("#view")
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


def test_the_map_libraries_are_named_with_their_current_fingerprint() -> None:
    # index.html loads the public map's Leaflet as ../vendor/x?v=<fingerprint> (web/heads.mjs stamps
    # it; the platform lets a browser keep it for a year), and the service worker caches those names
    html = (WEB / "inspector" / "index.html").read_text(encoding="utf-8")
    named = re.findall(r'(?:src|href)="\.\./(vendor/[^"?]+)\?v=([0-9a-f]+)"', html)
    assert {file for file, _ in named} >= {"vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css"}
    for file, fingerprint in named:
        assert fingerprint == hashlib.sha256((WEB / file).read_bytes()).hexdigest()[:12], file
    assert not re.search(r'(?:src|href)="\.\./vendor/[^"?]+"', html), "a library without fingerprint"


async def test_a_far_check_in_is_confirmed_and_a_write_on_a_submitted_task_is_refused(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    team = Team(web_platform)
    # about 5.6 km north of the filed location
    page = await _phone(pages, web_platform, team, away_deg=0.05)
    await _sign_in(page, team.token(0))
    await page.click(f'a[href="#/task/{team.task_id}"]')
    await page.wait_for_selector("#h-checkin")
    await page.click("text=获取位置并签到")
    await page.wait_for_selector('[data-action="checkin"]')
    shown = await page.inner_text("#gps-status")
    assert "距机构登记地址约 5.6 公里" in shown, shown
    for explained in ("超过 500 米", "远离现场", "审核人会看到"):
        assert explained in shown, shown
    assert (await page.inner_text('[data-action="checkin"]')).strip() == "仍然签到"
    await _shot_at(page, "#h-checkin", "inspector-checkin-far.png")
    await page.click('[data-action="checkin"]')
    await _settled(page)
    checkins = team.detail()["checkins"]
    assert len(checkins) == 1
    assert checkins[0]["far_from_site"] is True
    assert checkins[0]["distance_m"] > 5000
    await page.wait_for_selector("#h-checkin ~ ul .warn")
    assert "远离现场" in await page.inner_text("#h-checkin ~ ul")

    # offline, a result is recorded on the phone; meanwhile the team finishes and signs elsewhere
    await page.goto(page.url.split("#")[0] + f"#/task/{team.task_id}/checklist")
    await page.wait_for_selector(".item")
    await page.context.set_offline(True)
    await page.check(f'input[name="r-{ITEMS[0]}"][value="fail"]')
    await wait_for_js(page, "document.body.dataset.busy === '0' && document.body.dataset.pending === '1'")
    findings: dict[str, Any] = {
        "items": [{"item_code": c, "result": "pass", "note": None, "evidence_sha256": []} for c in ITEMS]
    }
    path = f"/v1/tasks/{team.task_id}"
    _call(web_platform, "PUT", f"{path}/findings", team.token(0), findings, **{"Idempotency-Key": "desk-1"})
    for member in (0, 1):
        _call(web_platform, "POST", f"{path}/submit", team.token(member), {}, **{"Idempotency-Key": f"s-{member}"})
    assert team.detail()["status"] == "submitted"

    await page.context.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await wait_for_js(page, "document.getElementById('sync-banner').dataset.conflicts === '1'")
    assert "未被接受" in await page.inner_text("#sync-banner")
    await page.goto(page.url.split("#")[0] + "#/sync")
    await page.wait_for_selector(".outbox li.conflict")
    shown = await page.inner_text(".outbox li.conflict")
    assert "检查任务已提交，不能再修改" in shown  # the service's reason (409 task_closed)
    assert "该任务已提交或已审核，不能再修改。如需补充，请联系审核人后丢弃这条记录。" in shown  # what to do
    await _shot(page, "inspector-conflict-closed.png")
    assert {f["item_code"]: f["result"] for f in team.detail()["findings"]} == {c: "pass" for c in ITEMS}

    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click('button[data-action="discard"]')  # the advice names 丢弃这条 too
    await _settled(page)
    await page.wait_for_selector("text=所有记录都已提交")


# The provider's development login page (oidc-provider's devInteractions, never deployed) imports a
# Google font; the guard aborts it like any request leaving the machine (as in test_workbench.py).
PROVIDER_FONT = "https://fonts.googleapis.com/"
DEMO_INSPECTOR = "demo-inspector-440106-01"  # devstack/oidc/accounts.json, registered by the demo city


async def test_sign_in_through_the_oidc_provider_lands_on_my_tasks(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    team = Team(web_platform, first=DEMO_INSPECTOR)
    page = await _phone(pages, web_platform, team)
    external_before = len(pages.log.external)
    await page.click('[data-action="oidc"]')
    await page.wait_for_url(f"{web_platform.oidc_issuer}/**")
    await page.locator('input[name="login"]').fill(DEMO_INSPECTOR)
    await page.locator('input[name="password"]').fill("demo")
    await page.locator('button[type="submit"]').click()
    await page.wait_for_selector('input[name="prompt"][value="consent"]', state="attached")
    await page.locator('button[type="submit"]').first.click()
    await page.wait_for_url(f"{web_platform.urls['inspection']}/ui/inspector/**")
    leaked = pages.log.external[external_before:]
    assert all(url.startswith(PROVIDER_FONT) for url in leaked), leaked
    del pages.log.external[external_before:]
    await page.wait_for_selector(".tabs")
    # the code was redeemed and the address no longer carries it
    assert "code=" not in page.url
    await page.wait_for_selector(f'a[href="#/task/{team.task_id}"]')
    assert team.institution["name"] in await page.inner_text(".tasks")
    token = await page.evaluate(
        """() => new Promise((resolve) => {
             const open = indexedDB.open("childcare-inspector");
             open.onsuccess = () => {
               const read = open.result.transaction("kv").objectStore("kv").get("token");
               read.onsuccess = () => resolve(read.result);
             };
           })"""
    )
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == web_platform.oidc_issuer
    assert claims["sub"] == DEMO_INSPECTOR
    await page.click(f'a[href="#/task/{team.task_id}"]')
    await page.wait_for_selector("#h-checkin")
