"""After the demo city is loaded, no resident ID number appears in clear anywhere it could leak:
every Kafka topic, every log line, every ledger export, the public and officer API answers, and the
pages. The scanner looks for any checksum-valid 18-character ID number, not for known values."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient

from shared.identifiers import IdentifierError, validate_resident_id, validate_uscc
from tests.support import admin_access, read_topic
from tests.web.conftest import WebPlatform

CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def resident_ids_in(text: str) -> set[str]:
    """Every checksum-valid resident ID number with a plausible birth date in ``text``. A candidate
    that is also a valid unified social credit code is not counted (the two formats overlap)."""
    found = set()
    for match in CANDIDATE.finditer(text):
        value = match.group(0)
        try:
            validate_resident_id(value)
        except IdentifierError:
            continue
        try:
            validate_uscc(value)
            continue
        except IdentifierError:
            found.add(value)
    return found


def test_the_scanner_finds_what_it_is_looking_for() -> None:
    assert resident_ids_in('{"id_number": "11010519491231002X", "masked": "110105********002X"}') == {
        "11010519491231002X"
    }
    assert resident_ids_in("11010519491231002X".lower()) == {"11010519491231002x"}
    assert resident_ids_in("110105194912310021 440103********1234 91440106MA59C8XK3C") == set()


def _fetch(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode("utf-8", "replace")


async def _all_topic_text(web_platform: WebPlatform) -> Iterable[tuple[str, str]]:
    admin = AIOKafkaAdminClient(**admin_access(web_platform.bootstrap).aiokafka())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(web_platform.namespace)]
    finally:
        await admin.close()
    assert len(topics) >= 4, topics
    out = []
    for topic in topics:
        for record in await read_topic(web_platform.bootstrap, topic):
            out.append((topic, (record.value or b"").decode("utf-8", "replace")))
    return out


async def test_no_resident_id_number_in_topics_logs_exports_apis_or_pages(web_platform: WebPlatform) -> None:
    assert web_platform.summary.present["staff"] > 0, "the demo city hired staff: there are ID numbers to leak"
    leaks: dict[str, set[str]] = {}

    def scan(where: str, text: str) -> None:
        hits = resident_ids_in(text)
        if hits:
            leaks.setdefault(where, set()).update(hits)

    records = 0
    for topic, text in await _all_topic_text(web_platform):
        records += 1
        scan(f"kafka {topic}", text)
    assert records > 100, "the demo city should have put events on the topics"

    logs = sorted(web_platform.logs.glob("*.log"))
    assert logs
    for log in logs:
        scan(f"log {log.name}", log.read_text(errors="replace"))

    ops = web_platform.token("ops", "supervisor", "credit_officer")
    for fmt in ("jsonl", "csv"):
        export = _fetch(f"{web_platform.urls['reporting']}/v1/ledger/export?format={fmt}", ops)
        assert export.strip(), fmt
        scan(f"ledger export {fmt}", export)
    for service, path in [
        ("filing", "/v1/public/institutions?page_size=100"),
        ("filing", "/v1/institutions?page_size=100"),
        ("inspection", "/v1/public/inspection-results"),
        ("credit", "/v1/credit/lists/industry_ban"),
        ("credit", "/v1/credit/lists/serious_dishonesty"),
        ("filing", "/v1/audit?limit=1000"),
    ]:
        scan(f"api {service} {path}", _fetch(web_platform.urls[service] + path, ops))
    for page in ("index.html", "institution.html", "results.html", "credit.html", "dashboard.html"):
        scan(f"page {page}", _fetch(f"{web_platform.pages}/{page}"))

    assert not leaks, {where: sorted(values)[:3] for where, values in leaks.items()}
