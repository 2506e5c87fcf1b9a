"""An API fit for phones (issue 21 item 3), against the running service: gzip and ETag/304 on a task,
the checklist and the violation catalogue, year-long caching of a versioned catalogue, and photo
evidence uploaded content-addressed to a task."""

from __future__ import annotations

import gzip
import hashlib
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from devstack.kafka import LocalKafka
from services.inspection.reference import catalogue_version, checklist
from shared.topics import FILING_EVENTS
from tests.inspection.support import SUPERVISOR, envelope_bytes, filed, inspector_body
from tests.support import Platform, eventually, produce_raw, token

A = token("inspector", subject="phone-a")
B = token("inspector", subject="phone-b")
OTHER = token("inspector", subject="phone-c")
ITEMS = list(checklist())[:5]


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (greyscale), so the sniffing of shared/sniff.py accepts it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([(x * 40 + y) % 256 for x in range(width)]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    async with Platform(kafka.bootstrap, namespace, {"inspection": fresh_db("inspection")}) as p:
        yield p


async def _task(p: Platform) -> str:
    client = p.clients["inspection"]
    institution = filed(name="天河区手机测试托育中心", lat=23.1291, lng=113.3240)
    iid = str(institution.institution_id)
    await produce_raw(
        p.bootstrap,
        p.topic(FILING_EVENTS),
        [(iid.encode(), envelope_bytes(institution, source="/services/filing", subject=iid))],
    )

    async def in_pool() -> bool:
        r = await client.get("/v1/target-institutions", headers=SUPERVISOR)
        return r.status_code == 200 and any(i["institution_id"] == iid for i in r.json()["items"])

    await eventually(in_pool)
    ids = []
    for subject in ("phone-a", "phone-b", "phone-c"):
        r = await client.post("/v1/inspectors", json=inspector_body(subject, ["天河区"]), headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await client.post(
        "/v1/targeted-inspections",
        json={
            "institution_id": iid,
            "inspector_ids": ids[:2],
            "reason": "complaint",
            "reason_detail": "家长投诉",
            "due_by": "2099-01-31",
            "checklist_items": ITEMS,
        },
        headers=SUPERVISOR,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_task_detail_is_gzipped_and_a_repeated_open_is_304(platform: Platform) -> None:
    client = platform.clients["inspection"]
    task_id = await _task(platform)
    first = await client.get(f"/v1/tasks/{task_id}", headers={**A, "Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers["vary"]
    assert first.headers["cache-control"] == "private, no-cache"
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.json()["id"] == task_id

    again = await client.get(f"/v1/tasks/{task_id}", headers={**A, "Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    # the same content uncompressed has the same (weak) tag; another tag gets the whole task
    plain = await client.get(f"/v1/tasks/{task_id}", headers={**A, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] == etag
    assert len(plain.content) > 2 * int(first.headers["content-length"])
    stale = await client.get(f"/v1/tasks/{task_id}", headers={**A, "If-None-Match": 'W/"0000"'})
    assert stale.status_code == 200

    # a write changes the task: the old tag no longer matches
    r = await client.put(
        f"/v1/tasks/{task_id}/findings",
        json={"items": [{"item_code": ITEMS[0], "result": "pass"}]},
        headers={**A, "Idempotency-Key": "f-1"},
    )
    assert r.status_code == 200, r.text
    changed = await client.get(f"/v1/tasks/{task_id}", headers={**A, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["findings"][0]["item_code"] == ITEMS[0]


async def test_catalogue_versioned_is_cached_for_a_year_and_revalidated_otherwise(platform: Platform) -> None:
    client = platform.clients["inspection"]
    version = catalogue_version()
    for path in ("/v1/catalogue/checklist", "/v1/catalogue/violations"):
        current = await client.get(path, params={"version": version}, headers={"Accept-Encoding": "gzip"})
        assert current.status_code == 200
        assert current.json()["version"] == version
        assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert current.headers["content-encoding"] == "gzip"
        unversioned = await client.get(path)
        assert unversioned.headers["cache-control"] == "public, no-cache"
        repeated = await client.get(path, headers={"If-None-Match": unversioned.headers["etag"]})
        assert repeated.status_code == 304
        assert repeated.content == b""


async def test_photo_evidence_is_content_addressed_per_task(platform: Platform) -> None:
    client = platform.clients["inspection"]
    task_id = await _task(platform)
    photo = png(3, 3)
    digest = hashlib.sha256(photo).hexdigest()
    url = f"/v1/tasks/{task_id}/evidence"
    first = await client.post(url, content=photo, headers={**A, "Content-Type": "image/png"})
    assert first.status_code == 201, first.text
    assert first.json() == {"task_id": task_id, "sha256": digest, "media_type": "image/png", "size_bytes": len(photo)}
    retry = await client.post(url, content=photo, headers={**B, "Content-Type": "image/png"})
    assert retry.status_code == 200
    assert retry.json()["sha256"] == digest
    rows = await platform.scalar("inspection", "SELECT count(*) FROM task_evidence")
    assert rows == 1

    # a finding names it; the team reads it back, byte for byte, cacheable for good
    r = await client.put(
        f"/v1/tasks/{task_id}/findings",
        json={
            "items": [{"item_code": ITEMS[0], "result": "fail", "note": "消毒记录缺失", "evidence_sha256": [digest]}]
        },
        headers={**A, "Idempotency-Key": "f-photo"},
    )
    assert r.status_code == 200, r.text
    got = await client.get(f"{url}/{digest}", headers=B)
    assert got.status_code == 200
    assert got.content == photo
    assert got.headers["content-type"] == "image/png"
    assert "immutable" in got.headers["cache-control"]

    # not a photo, a lie about the type, too big, or someone else's task: refused, nothing stored
    pdf = await client.post(url, content=b"%PDF-1.4\n%%EOF", headers={**A, "Content-Type": "application/pdf"})
    assert pdf.status_code == 415
    lie = await client.post(url, content=gzip.compress(b"x" * 100), headers={**A, "Content-Type": "image/jpeg"})
    assert lie.status_code == 422
    big = await client.post(url, content=photo + b"\x00" * (1024 * 1024), headers={**A, "Content-Type": "image/png"})
    assert big.status_code == 413
    other = await client.post(url, content=png(4, 4), headers={**OTHER, "Content-Type": "image/png"})
    assert other.status_code == 403
    assert (await client.get(f"{url}/{digest}", headers=OTHER)).status_code == 403
    missing = await client.get(f"{url}/{'0' * 64}", headers=A)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "evidence_not_found"
    assert await platform.scalar("inspection", "SELECT count(*) FROM task_evidence") == 1
    assert uuid.UUID(task_id)
