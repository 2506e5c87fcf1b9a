"""Bytes over the wire for one whole inspection, as a phone makes it, before and after issue 21.

The sequence is what the inspectors' app (web/inspector/) sends for one task with the whole
checklist (70 items): my tasks, the task, the violation catalogue, a GPS check-in, the findings
(one write per area of the checklist), a photo, a violation, the task opened again twice (once after
the writes, once unchanged), the signature, and the review status.

* **before**: every answer in full and uncompressed (``Accept-Encoding: identity``, no validators) —
  the platform before gzip and ETags;
* **after**: ``Accept-Encoding: gzip`` and ``If-None-Match`` with the last tag of the same URL (what
  the app sends), so an unchanged task or catalogue is a 304.

Counted: the status line, the headers and the body as received (compressed when compressed), and
what the phone sends (headers and body). The platform must be running (``./dev run``) with
development tokens accepted; the script creates two inspectors and a targeted task as a supervisor.

    python -m bench.inspection_wire --inspection http://127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.inspection.reference import checklist
from shared.auth import mint_token
from shared.settings import ServiceSettings
from shared.workdays import china_today

Token = Callable[..., str]


@dataclass
class Wire:
    """Bytes of one phone session, per call."""

    compressed: bool
    received: int = 0
    sent: int = 0
    not_modified: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def call(self, http: httpx.Client, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip" if self.compressed else "identity"}
        headers.update(kwargs.pop("headers", {}))
        if self.compressed and method == "GET" and path in self.tags:
            headers["If-None-Match"] = self.tags[path]
        response = http.request(method, path, headers=headers, **kwargs)
        response.read()
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        if method == "GET" and "etag" in response.headers:
            self.tags[path] = response.headers["etag"]
        down = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n") + 2
        down += sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + response.num_bytes_downloaded
        request = response.request
        up = len(f"{method} {path} HTTP/1.1\r\n") + 2 + sum(len(k) + len(v) + 4 for k, v in request.headers.raw)
        up += len(request.content)
        self.received += down
        self.sent += up
        self.not_modified += response.status_code == 304
        self.calls.append({"call": f"{method} {path.split('?')[0]}", "status": response.status_code, "down": down})
        return response


def _task(http: httpx.Client, token: Token) -> tuple[str, list[str]]:
    supervisor = token("bench-supervisor", "supervisor")
    auth = {"Authorization": f"Bearer {supervisor}"}
    pool = http.get("/v1/target-institutions", params={"district": "440106"}, headers=auth).raise_for_status().json()
    target = pool["items"][0]
    subjects = [f"bench-wire-{uuid.uuid4().hex[:6]}-{n}" for n in "ab"]
    ids = []
    for subject in subjects:
        body = {
            "subject": subject,
            "name": "检查员（基准）",
            "agency": "天河区卫生健康局",
            "badge_number": f"GZ-{uuid.uuid4().hex[:10]}",
            "districts": [target["district_code"]],
        }
        ids.append(http.post("/v1/inspectors", json=body, headers=auth).raise_for_status().json()["id"])
    task = http.post(
        "/v1/targeted-inspections",
        json={
            "institution_id": target["institution_id"],
            "inspector_ids": ids,
            "reason": "other",
            "reason_detail": "传输量基准",
            "due_by": china_today().isoformat(),
        },
        headers=auth,
    ).raise_for_status()
    return str(task.json()["id"]), subjects


# a 1600×1200 phone photo after the app's resizing is about this size (JPEG, quality 0.8)
PHOTO_BYTES = 220_000


def _photo() -> bytes:
    # a valid JPEG of PHOTO_BYTES: SOI, one comment segment of padding, SOS, the scan, EOI
    body = b"\xff\xd8" + b"\xff\xfe" + (0xFFF0).to_bytes(2, "big") + b"\x00" * 0xFFEE
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    fill = PHOTO_BYTES - len(body) - len(scan) - 2
    return body + scan + bytes((i * 7 + 1) % 255 for i in range(fill)) + b"\xff\xd9"


def inspection(base: str, token: Token, *, compressed: bool) -> Wire:
    wire = Wire(compressed=compressed)
    with httpx.Client(base_url=base, timeout=30) as http:
        task_id, (a, b) = _task(http, token)
        phone, other = token(a, "inspector"), token(b, "inspector")
        task_path = f"/v1/tasks/{task_id}"
        key = lambda: {"Idempotency-Key": str(uuid.uuid4())}  # noqa: E731
        wire.call(http, "GET", "/v1/me/tasks", phone)
        detail = wire.call(http, "GET", task_path, phone).json()
        wire.call(http, "GET", "/v1/catalogue/violations", phone)
        site = detail["institution"]
        body = {"lat": site["latitude"] + 0.0002, "lng": site["longitude"]}
        wire.call(http, "POST", f"{task_path}/check-in", phone, json=body, headers=key())
        areas: dict[str, list[str]] = {}
        for item in detail["checklist"]:
            areas.setdefault(item["area"], []).append(item["item_code"])
        photo = _photo()
        upload = wire.call(
            http, "POST", f"{task_path}/evidence", phone, content=photo, headers={"Content-Type": "image/jpeg"}
        )
        sha = upload.json()["sha256"]
        for n, codes in enumerate(areas.values()):
            items: list[dict[str, Any]] = [
                {"item_code": c, "result": "fail" if (n, i) == (0, 0) else "pass", "note": None, "evidence_sha256": []}
                for i, c in enumerate(codes)
            ]
            if n == 0:
                items[0].update(note="消毒记录缺失", evidence_sha256=[sha])
            wire.call(http, "PUT", f"{task_path}/findings", phone, json={"items": items}, headers=key())
        violation = {"code": "CHILD_ABUSE", "description": "午睡时拖拽幼儿手臂", "evidence_sha256": [sha]}
        wire.call(http, "POST", f"{task_path}/violations", phone, json=violation, headers=key())
        wire.call(http, "GET", task_path, phone)  # opened again after the writes: changed
        wire.call(http, "GET", task_path, phone)  # and again: unchanged
        wire.call(http, "GET", "/v1/catalogue/violations", phone)  # the picker opened again
        wire.call(http, "POST", f"{task_path}/submit", phone, headers=key())
        wire.call(http, "POST", f"{task_path}/submit", other, headers=key())
        wire.call(http, "GET", "/v1/me/tasks", phone)
        wire.call(http, "GET", task_path, phone)  # the review status
    return wire


def measure(base: str, token: Token) -> dict[str, Any]:
    before = inspection(base, token, compressed=False)
    after = inspection(base, token, compressed=True)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checklist_items": len(checklist()),
        "photo_bytes": PHOTO_BYTES,
        "before": {"received": before.received, "sent": before.sent, "calls": before.calls},
        "after": {
            "received": after.received,
            "sent": after.sent,
            "not_modified": after.not_modified,
            "calls": after.calls,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="bytes over the wire for one inspection, before/after gzip+ETag")
    parser.add_argument("--inspection", default="http://127.0.0.1:8002")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    settings = ServiceSettings()

    def token(subject: str, *roles: str) -> str:
        return mint_token(settings, subject=subject, roles=list(roles))

    figures = measure(args.inspection, token)
    print(report(figures))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(figures, out, ensure_ascii=False, indent=2)


def report(figures: dict[str, Any]) -> str:
    before, after = figures["before"], figures["after"]
    lines = [f"{'call':<40} {'before':>9} {'after':>9}"]
    for b, a in zip(before["calls"], after["calls"], strict=True):
        lines.append(f"{b['call'][:40]:<40} {b['down']:>9,} {a['down']:>9,}{'  (304)' if a['status'] == 304 else ''}")
    lines.append(f"{'received (bytes)':<40} {before['received']:>9,} {after['received']:>9,}")
    lines.append(f"{'sent (bytes, incl. one photo)':<40} {before['sent']:>9,} {after['sent']:>9,}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
