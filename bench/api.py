"""P2 (API writes), P3 (commit → ledger-visible latency) and the services' resident memory.

Every service runs as ``./dev run`` runs it: one uvicorn worker per service in its own process, on
a free loopback port, against the benchmark's own broker and database server. The load generator
(``bench.load``) is a separate process too.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.infra import (
    ROOT,
    RssSampler,
    ServiceProcess,
    Stack,
    cpu_seconds,
    database_name,
    percentile,
    plain_url,
    service_env,
    start_uvicorn,
    wait_ready,
    with_database,
)
from bench.load import filing_body, read_response, request_bytes
from bench.pipeline import create_topics
from devstack.postgres import SERVICES
from shared.auth import mint_token
from shared.settings import ServiceSettings

PDF = b"%PDF-1.7\n% bench document\n"
DOCUMENT_KINDS = ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence")


@dataclass
class LoadConfig:
    concurrency: int
    duration: float
    warmup: float
    rounds: int


def officer_token() -> str:
    return mint_token(
        ServiceSettings(environment="test"), subject="bench-officer", roles=["filing_officer"], districts=["440106"]
    )


def upload_documents(base: str, token: str) -> dict[str, str]:
    documents = {}
    for kind in DOCUMENT_KINDS:
        request = urllib.request.Request(f"{base}/v1/documents", data=PDF + kind.encode() + b"\n%%EOF\n", method="POST")
        request.add_header("Content-Type", "application/pdf")
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            documents[kind] = str(json.loads(response.read())["sha256"])
    return documents


_serials = iter(range(1_000_000, 10_000_000, 400_000))


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (uvicorn's worker processes under
    ``--workers``: the supervisor itself does next to nothing)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        total += cpu_seconds(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(child) for child in children.read_text().split()]
            except OSError:
                continue
    return total


async def db_counters(url: str | None) -> dict[str, int]:
    """Sessions opened, transactions committed and rolled back so far in one database."""
    if url is None:
        return {}
    name = database_name(url)
    conn = await asyncpg.connect(with_database(plain_url(url), "postgres"))
    try:
        row = await conn.fetchrow(
            "SELECT sessions, xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name
        )
        return dict(row) if row else {}
    finally:
        await conn.close()


async def load(
    port: int,
    token: str,
    documents: dict[str, str],
    cfg: LoadConfig,
    server_pid: int | None = None,
    db_url: str | None = None,
) -> dict[str, Any]:
    """One closed-loop run; with ``server_pid``, also the server's CPU seconds per request, and with
    ``db_url`` the database sessions and transactions per request."""
    db_before = await db_counters(db_url)
    cpu_before = process_tree_cpu_seconds(server_pid) if server_pid else 0.0
    wall_before = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.load",
        "--port",
        str(port),
        "--token",
        token,
        "--documents",
        json.dumps(documents),
        "--concurrency",
        str(cfg.concurrency),
        "--duration",
        str(cfg.duration),
        "--warmup",
        str(cfg.warmup),
        "--serial-start",
        str(next(_serials)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out)
    if server_pid:
        # over the whole run (warm-up included), so divide by every request the run sent
        cpu = process_tree_cpu_seconds(server_pid) - cpu_before
        wall = time.monotonic() - wall_before
        sent = result["serial_end"] - result["serial_start"]
        result["server_cpu_ms_per_request"] = 1000 * cpu / max(sent, 1)
        result["server_cpu_utilisation"] = cpu / wall
    if db_url:
        # pg_stat_database is updated when a backend reports (at most every ~1 s): let it settle
        await asyncio.sleep(1.5)
        db_after = await db_counters(db_url)
        sent = result["serial_end"] - result["serial_start"]
        for key, value in db_after.items():
            result[f"db_{key}_per_request"] = (value - db_before.get(key, 0)) / max(sent, 1)
    return result


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds_rps"] = [round(r["rps"], 1) for r in runs]
    return chosen


async def p2(stack: Stack, cfg: LoadConfig, logdir: Path, workers: int = 1) -> dict[str, Any]:
    """The filing service alone (relay and its own consumers included) vs the bare endpoint, each
    as ``workers`` uvicorn worker processes (CPU per request: all of them together)."""
    token = officer_token()
    bare_url, filing_url = stack.fresh_db("filing", "p2b"), stack.fresh_db("filing", "p2")
    baseline = start_uvicorn(
        f"baseline-{workers}w",
        "bench.baseline_app:create_app",
        {"BENCH_DATABASE_URL": bare_url},
        logdir,
        workers=workers,
    )
    ns = f"p2{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)  # the admin step: the services only wait for their topics
    filing = start_uvicorn(
        f"filing-p2-{workers}w",
        "services.filing.app:create_app",
        service_env("filing", filing_url, stack.bootstrap, kafka_namespace=ns),
        logdir,
        workers=workers,
    )
    try:
        await wait_ready([baseline, filing])
        documents = await asyncio.to_thread(upload_documents, filing.base, token)
        bare_runs, platform_runs = [], []
        for _ in range(cfg.rounds):  # interleaved, so a noisy neighbour hurts both alike
            bare_runs.append(await load(baseline.port, token, documents, cfg, baseline.pid, bare_url))
            platform_runs.append(await load(filing.port, token, documents, cfg, filing.pid, filing_url))
        return {
            "bare": _median_run(bare_runs),
            "platform": _median_run(platform_runs),
            "config": {**cfg.__dict__, "workers": workers},
        }
    finally:
        baseline.stop()
        filing.stop()


async def p2_workers(stack: Stack, cfg: LoadConfig, logdir: Path) -> dict[str, Any]:
    """P2 with two uvicorn worker processes on each side (the same load generator and connections)."""
    return await p2(stack, cfg, logdir, workers=2)


def p2_workers_row(result: dict[str, Any]) -> tuple[str, str, str, float, str, float, str]:
    """bench/run.py's table row of ``p2_workers`` (name, bare, platform, ratio, goal, gap, note)."""
    b, p = result["bare"], result["platform"]
    ratio = p["rps"] / b["rps"]
    return (
        f"P2 POST /v1/institutions, {result['config']['workers']} uvicorn workers vs {result['config']['workers']} "
        f"bare workers, {result['config']['concurrency']} connections",
        f"{b['rps']:,.0f} req/s (p50 {b['p50_ms']:,.0f} / p99 {b['p99_ms']:,.0f} ms)",
        f"{p['rps']:,.0f} req/s (p50 {p['p50_ms']:,.0f} / p99 {p['p99_ms']:,.0f} ms)",
        ratio,
        "≥ 0.70",
        0.70 / ratio,
        f"server CPU per request (all workers): platform {p['server_cpu_ms_per_request']:.2f} ms, bare "
        f"{b['server_cpu_ms_per_request']:.2f} ms; non-2xx: {p['requests'] - p['ok']} / {b['requests'] - b['ok']}",
    )


async def profile_p2(stack: Stack, cfg: LoadConfig, logdir: Path, out: Path) -> dict[str, Any]:
    """One load run against a filing service running under cProfile (written when it stops)."""
    token = officer_token()
    ns = f"p2p{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)  # the admin step: the services only wait for their topics
    filing = start_uvicorn(
        "filing-profiled",
        "services.filing.app:create_app",
        service_env("filing", stack.fresh_db("filing", "p2p"), stack.bootstrap, kafka_namespace=ns),
        logdir,
        profile_to=out,
    )
    try:
        await wait_ready([filing])
        documents = await asyncio.to_thread(upload_documents, filing.base, token)
        filing.proc.send_signal(signal.SIGUSR1)
        return await load(filing.port, token, documents, cfg, filing.pid)
    finally:
        filing.stop(timeout=60)


async def platform(stack: Stack, cfg: LoadConfig, samples: int, logdir: Path) -> dict[str, Any]:
    """All four services: idle memory, P3 latency, then P2's load with every service's memory sampled."""
    ns = f"pl{uuid.uuid4().hex[:6]}."
    await create_topics(stack.kafka, ns)  # the admin step: the services only wait for their topics
    urls = {s: stack.fresh_db(s, f"pl_{s}") for s in SERVICES}
    procs: dict[str, ServiceProcess] = {
        s: start_uvicorn(
            s, f"services.{s}.app:create_app", service_env(s, urls[s], stack.bootstrap, kafka_namespace=ns), logdir
        )
        for s in SERVICES
    }
    token = officer_token()
    try:
        await wait_ready(list(procs.values()))
        filing = procs["filing"]
        documents = await asyncio.to_thread(upload_documents, filing.base, token)
        await asyncio.sleep(5)  # let start-up work (topic creation, group joins, first job runs) settle
        idle: dict[str, float] = {}
        for name, proc in procs.items():
            readings = []
            for _ in range(5):
                readings.append(proc.rss())
                await asyncio.sleep(0.1)
            idle[name] = sum(readings) / len(readings)
        latency = await p3_platform(filing.port, token, documents, plain_url(urls["reporting"]), samples)
        with RssSampler({name: p.pid for name, p in procs.items()}) as sampler:
            loaded = await load(filing.port, token, documents, cfg, filing.pid)
        return {"idle_rss_mib": idle, "load_rss_mib": dict(sampler.peak), "latency": latency, "load": loaded}
    finally:
        for proc in procs.values():
            proc.stop()


async def p3_platform(port: int, token: str, documents: dict[str, str], reporting_url: str, samples: int) -> Any:
    """One filing at a time: from the 201 (the transaction has committed before the response is
    sent) until the reporting database shows the ledger entry, polled every millisecond."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = await asyncpg.connect(reporting_url)
    latencies: list[float] = []
    last_index = -1
    try:
        for i in range(samples + 5):
            body = json.dumps(filing_body(9_000_000 + i, documents), ensure_ascii=False).encode()
            writer.write(request_bytes(port, "/v1/institutions", token, body))
            head = await reader.readuntil(b"\r\n\r\n")
            committed = time.perf_counter()
            status = int(head.split()[1])
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            response = json.loads(await reader.readexactly(length))
            if status != 201:
                raise RuntimeError(f"filing answered {status}: {response}")
            subject = response["id"]
            deadline = committed + 30
            while True:
                found = await conn.fetchval(
                    "SELECT index FROM ledger_entry WHERE index > $1 AND subject = $2 ORDER BY index LIMIT 1",
                    last_index,
                    subject,
                )
                if found is not None:
                    visible = time.perf_counter()
                    last_index = max(last_index, int(found))
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError("an institution did not reach the ledger within 30 s")
                await asyncio.sleep(0.001)
            if i >= 5:  # the first few warm up connections, prepared statements and caches
                latencies.append((visible - committed) * 1000)
    finally:
        writer.close()
        await conn.close()
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "samples": len(latencies)}


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.api [--duration S] [--rounds N] [--profile OUT.prof]``: P2 alone (bare vs
    filing, interleaved) on its own broker and database server, and optionally a cProfile of the
    filing service under the same load; prints the figures as JSON (and the profile summary)."""
    import argparse
    import tempfile

    from bench import profiling
    from bench.infra import stack

    parser = argparse.ArgumentParser(description="P2 alone: POST /v1/institutions, filing vs bare")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="also profile the filing service; write the .prof here")
    parser.add_argument("--no-compare", action="store_true", help="skip the bare vs platform runs")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes on each side")
    args = parser.parse_args(argv)
    cfg = LoadConfig(args.concurrency, args.duration, args.warmup, args.rounds)

    async def go(s: Stack, workdir: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not args.no_compare:
            out["p2"] = await p2(s, cfg, workdir, workers=args.workers)
        if args.profile is not None:
            out["profile_load"] = await profile_p2(s, cfg, workdir, args.profile.resolve())
        return out

    with tempfile.TemporaryDirectory(prefix="bench-p2-") as tmp, stack(Path(tmp)) as s:
        result = asyncio.run(go(s, Path(tmp)))
    sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    if "p2" in result:
        b, p = result["p2"]["bare"], result["p2"]["platform"]
        sys.stdout.write(
            f"bare {b['rps']:.0f} req/s (p50 {b['p50_ms']:.1f} / p99 {b['p99_ms']:.1f} ms, "
            f"cpu {b['server_cpu_ms_per_request']:.2f} ms/req); platform {p['rps']:.0f} req/s "
            f"(p50 {p['p50_ms']:.1f} / p99 {p['p99_ms']:.1f} ms, cpu {p['server_cpu_ms_per_request']:.2f} ms/req, "
            f"{p.get('db_xact_commit_per_request', float('nan')):.2f} commits + "
            f"{p.get('db_xact_rollback_per_request', float('nan')):.2f} rollbacks/req); "
            f"ratio {p['rps'] / b['rps']:.3f}\n"
        )
    if args.profile is not None:
        sys.stdout.write(profiling.render(profiling.summarise(args.profile), packages=16) + "\n")


__all__ = ["LoadConfig", "main", "p2", "p2_workers", "p2_workers_row", "platform", "profile_p2", "read_response"]


if __name__ == "__main__":
    main()
