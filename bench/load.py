"""The P2 load generator: ``python -m bench.load --port P --concurrency C --duration S …``.

A closed-loop HTTP/1.1 keep-alive client on raw asyncio streams (uvloop when present), run in its
own process so it does not share an interpreter with what it measures. Each of C connections sends
``POST /v1/institutions`` with a complete filing (a fresh unified social credit code every time, the
same uploaded documents), waits for the answer, and sends the next. Requests finishing in the
warm-up are not counted. Prints one JSON object: throughput, latency percentiles, status counts.

Why not httpx: its per-request client cost (~1 ms of CPU here) would make the load generator, not
the server, the bottleneck of the bare baseline on a 2-core machine. ``wrk`` is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from typing import Any

from bench.events import uscc_for


def filing_body(serial: int, documents: dict[str, str]) -> dict[str, Any]:
    return {
        "uscc": uscc_for(serial),
        "name": f"天河区第{serial}托育中心",
        "organiser_type": "enterprise",
        "operating_model": "private",
        "service_types": ["full_day", "hourly"],
        "district": "天河区",
        "street_code": "440106001",
        "address": "天河路100号2楼",
        "latitude": 23.1291,
        "longitude": 113.3240,
        "premises_area_m2": 480.0,
        "classes": [{"class_type": "toddler", "size": 15}, {"class_type": "older", "size": 20}],
        "puhui_slots": 20,
        "monthly_fee_yuan": 3800,
        "meals": True,
        "documents": documents,
    }


def request_bytes(port: int, path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run(args: argparse.Namespace) -> dict[str, Any]:
    documents = json.loads(args.documents)
    serial = args.serial_start
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + args.warmup
    stop_at = measure_from + args.duration

    async def connection() -> None:
        nonlocal serial
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        try:
            while loop.time() < stop_at:
                serial += 1
                body = json.dumps(filing_body(serial, documents), ensure_ascii=False).encode()
                sent = loop.time()
                writer.write(request_bytes(args.port, args.path, args.token, body))
                status = await read_response(reader)
                done = loop.time()
                if sent >= measure_from and done <= stop_at:
                    latencies.append(done - sent)
                    statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(args.concurrency)))
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, max(0, int(-(-q * len(latencies) // 100)) - 1))] * 1000

    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "requests": len(latencies),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": args.duration,
        "rps": ok / args.duration,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "serial_start": args.serial_start,
        "serial_end": serial,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="closed-loop POST /v1/institutions load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/institutions")
    parser.add_argument("--token", required=True)
    parser.add_argument("--documents", required=True, help="JSON object kind -> sha256")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--serial-start", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
