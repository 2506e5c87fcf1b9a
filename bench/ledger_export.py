"""Memory of ``GET /v1/ledger/export`` over 100,000 entries, against a bare asyncpg baseline.

Part of ``python -m bench`` (``measure_export``); also runs alone:

    .venv/bin/python -m bench.ledger_export [--entries 100000]

Starts a throw-away embedded PostgreSQL, migrates a reporting database, inserts synthetic ledger
entries (canonical-JSON leaves of ~500 bytes) with one SQL statement, then measures, each in the
same process with tracemalloc (Python heap peak) and the resident set size:

1. baseline: asyncpg ``fetch`` of the whole range into memory (what a naive export would do);
2. the service's export streamed as JSON Lines and as CSV through its ASGI app (keyset pages of
   1,000 in short transactions), the client discarding each chunk as it arrives.

The export's peak should stay flat (independent of the range), the baseline grows with it.
Not run by the tests; prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from devstack.postgres import LocalPostgres
from services.reporting.app import create_app
from services.reporting.settings import ReportingSettings
from shared.auth import mint_token
from shared.db import Database
from shared.migrate import upgrade

FILL = """
INSERT INTO ledger_entry (index, event_id, event_source, event_type, subject, event_time, leaf, leaf_hash)
SELECT i, 'e' || i, '/services/filing', 'cn.gov.gz.childcare.filing.institution.filed.v1', 's' || (i % 997),
       now(), leaf, sha256('\\x00'::bytea || leaf)
FROM (
  SELECT i, convert_to(json_build_object(
    'data', json_build_object('institution_id', 's' || (i % 997), 'decided_by', 'officer', 'decided_at', now()::text,
      'profile', json_build_object('name', '天河区第' || i || '托育中心', 'uscc', '91440106MA59C8XK3C',
        'address', repeat('天河路', 20), 'district_code', '440106', 'street_code', '440106001',
        'total_slots', 35, 'puhui_slots', 20)),
    'id', 'e' || i, 'source', '/services/filing', 'subject', 's' || (i % 997),
    'time', '2025-03-01T09:30:00Z', 'type', 'cn.gov.gz.childcare.filing.institution.filed.v1')::text, 'UTF8') AS leaf
  FROM generate_series(0, $1 - 1) AS i
) AS generated;
UPDATE ledger_head SET size = $1;
"""


def rss_mb() -> float:
    # Linux: the current RSS from /proc (ru_maxrss is a lifetime maximum, useless for comparisons).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(label: str, run: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    before = rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    count = await run()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "label": label,
        "count": count,
        "seconds": elapsed,
        "heap_peak_mib": peak / 2**20,
        "rss_change_mib": rss_mb() - before,
    }


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'':<34} {'rows/bytes':>12} {'time':>10} {'heap peak':>14} {'RSS change':>14}")
    for r in rows:
        print(
            f"{r['label']:<34} {r['count']:>12,} {r['seconds']:>8.1f} s {r['heap_peak_mib']:>10.1f} MiB"
            f" {r['rss_change_mib']:>+10.1f} MiB"
        )


async def stream_discarding(app: Any, path: str, token: str) -> int:
    """Drive the ASGI app directly, dropping each body chunk as a slow network client would after
    sending it (httpx's ASGITransport would buffer the whole body and hide the server's behaviour)."""
    target, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    sent = 0
    status = 0
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if done.is_set():
            return {"type": "http.disconnect"}
        await asyncio.sleep(0)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent, status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    assert status == 200, status
    return sent


async def measure_export(url: str, entries: int) -> list[dict[str, Any]]:
    """Fill a migrated, empty reporting database at ``url`` with ``entries`` ledger entries, then
    measure the baseline and the service's streamed export (JSON Lines and CSV)."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    for statement in FILL.strip().split(";\n"):
        if statement.strip():
            await conn.execute(statement.replace("$1", str(entries)))
    await conn.close()

    async def baseline() -> int:
        c = await asyncpg.connect(plain)
        try:
            rows = await c.fetch("SELECT * FROM ledger_entry ORDER BY index")
            return len(rows)
        finally:
            await c.close()

    rows = [await measure("asyncpg fetch (all in memory)", baseline)]
    settings = ReportingSettings(environment="test", run_background_workers=False)
    token = mint_token(settings, subject="bench", roles=["ops"])
    db = Database(url, pool_size=2)
    app = create_app(settings, db)
    async with app.router.lifespan_context(app):
        for fmt in ("jsonl", "csv"):

            async def export(fmt: str = fmt) -> int:
                return await stream_discarding(app, f"/v1/ledger/export?format={fmt}", token)

            rows.append(await measure(f"GET /v1/ledger/export ({fmt})", export))
    await db.dispose()
    return rows


async def main(entries: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        pg = LocalPostgres(Path(tmp) / "pg", delete_on_exit=True).start()
        try:
            pg.create_database("bench_reporting", service="reporting")
            await asyncio.to_thread(upgrade, "reporting", pg.owner_url("bench_reporting", "reporting"))
            url = pg.app_url("bench_reporting", "reporting")
            print_rows(await measure_export(url, entries))
        finally:
            pg.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().entries))
