"""The demo load (issue 23): how long the first ``./dev run`` takes to have the demo city ready.

``python -m bench.demo_load [--scale 2500] [--concurrency N] [--json FILE]`` starts the platform the
way ``./dev run`` does (``python -m devstack.run --no-demo`` on free ports, a temp data directory:
Kafka, PostgreSQL, the OIDC provider, the four services), then runs the demo-city generator
(``devstack.demo.generate``, the code ``./dev run`` calls) in this process against it, and times it
from its first request until it returns: the city is ready as the demo defines it (every step done
through the public APIs, and every wait for what Kafka carries to the other services — the
inspection pool, the suspension, the industry ban, the credit repair — satisfied).

It reports seconds, requests and requests per second, the generator's phases (seconds and requests
each), and the CPU seconds of the client and of every platform process over the load, so that a
busy machine's noise in the wall time can be told from the work itself. Goal: ≤ 180 s on 2 cores.

``--profile filing,reporting,credit`` runs the named services under cProfile (``devstack.run
--profile``: bench/profiled.py, CPU time, from the load's first request until the platform stops)
and adds, per service, its own CPU time by package and its top functions (bench/profiling.py). The
profiler slows what it profiles: such a run's seconds and CPU are not the unprofiled row's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import profiling
from devstack.kafka import free_port
from devstack.ports import free_port_block

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 180.0
SERVICES = ("filing", "inspection", "credit", "reporting")
# the busiest services of the demo load (its CPU per process), profiled by ``./dev bench --profile demo``
PROFILED = ("filing", "reporting", "credit")


@dataclass
class Platform:
    proc: subprocess.Popen[bytes]
    data: Path
    base: int

    @property
    def urls(self) -> dict[str, str]:
        return {s: f"http://127.0.0.1:{self.base + n}" for n, s in enumerate(SERVICES, start=1)}


@contextmanager
def platform(profile: Sequence[str] = (), profile_dir: Path | None = None) -> Iterator[Platform]:
    """``python -m devstack.run --no-demo`` on free ports in a temp data directory, until it is ready;
    with ``profile``, those services under cProfile, their profiles written to ``profile_dir`` when
    the platform stops."""
    data = Path(tempfile.mkdtemp(prefix="demo-load-"))
    base = free_port_block()
    env = {**os.environ, "CHILDCARE_DATA": str(data), "CHILDCARE_PORT_BASE": str(base)}
    log = (data / "run.log").open("wb")
    command = [sys.executable, "-m", "devstack.run", "--no-demo", "--kafka-port", str(free_port())]
    if profile:
        command += ["--profile", ",".join(profile), "--profile-dir", str(profile_dir or data / "profiles")]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its services share its session: their CPU is told apart by it
    )
    try:
        deadline = time.monotonic() + 600
        while "Ctrl-C stops everything." not in (data / "run.log").read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"devstack.run exited: {(data / 'run.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the platform did not start within 10 minutes")
            time.sleep(1)
        yield Platform(proc, data, base)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120 + 60 * len(profile))  # devstack.run gives a profiled service 60 s to write it
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def _stat(pid: str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def platform_cpu(p: Platform) -> dict[str, float]:
    """CPU seconds used so far by the platform's processes, by what they are: the four services, the
    OIDC provider and the run command (its session), Kafka and PostgreSQL (their command lines name
    the data directory; PostgreSQL's backends are the postmaster's children, and the postmaster's
    reaped children count too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seen: dict[str, tuple[str, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            seen[entry.name] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"),
                _stat(entry.name),
            )
        except OSError:
            continue
    postmasters = {
        pid for pid, (cmd, _) in seen.items() if str(p.data) in cmd and "postgres" in cmd and "java" not in cmd
    }
    cpu: dict[str, float] = {}
    for pid, (cmd, fields) in seen.items():
        own = int(fields[11]) + int(fields[12])
        if pid in postmasters:
            name, own = "postgres", own + int(fields[13]) + int(fields[14])
        elif fields[1] in postmasters:
            name = "postgres"
        elif str(p.data) in cmd and "java" in cmd:
            name = "kafka"
        elif int(fields[3]) == p.proc.pid:
            name = next((s for s in SERVICES if f"services.{s}." in cmd), "oidc" if "node" in cmd else "run")
        else:
            continue
        cpu[name] = cpu.get(name, 0.0) + own / ticks
    return cpu


def service_pids(p: Platform) -> dict[str, int]:
    """The services' processes: the run command's children whose command line names the service."""
    pids: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int(_stat(entry.name)[1]) != p.proc.pid:
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for service in SERVICES:
            if f"services.{service}." in cmd:
                pids[service] = int(entry.name)
    return pids


def load(p: Platform, *, scale: int, concurrency: int | None, profiled: Sequence[str] = ()) -> dict[str, Any]:
    """Run the demo generator against ``p`` in this thread; the figures of the run. The ``profiled``
    services (started under bench/profiled.py) start profiling now: the load, not the start-up."""
    from devstack.demo import DEFAULT_CONCURRENCY, generate
    from shared.auth import TokenSettings

    chosen = concurrency or DEFAULT_CONCURRENCY
    pids = service_pids(p)
    for service in profiled:
        os.kill(pids[service], signal.SIGUSR1)
    before = platform_cpu(p)
    client_cpu = time.thread_time()
    started = time.perf_counter()
    summary = asyncio.run(
        generate(p.urls, scale=scale, token_settings=TokenSettings(), out=sys.stderr, concurrency=chosen)
    )
    seconds = time.perf_counter() - started
    client = time.thread_time() - client_cpu
    after = platform_cpu(p)
    cpu = {name: round(after[name] - before.get(name, 0.0), 1) for name in sorted(after)}
    cpu["client"] = round(client, 1)
    return {
        "scale": scale,
        "concurrency": chosen,
        "seconds": seconds,
        "requests": summary.requests,
        "requests_per_second": summary.requests / seconds,
        "phase_seconds": summary.details.get("phase_seconds", {}),
        "phase_requests": summary.details.get("phase_requests", {}),
        "cpu_seconds": cpu,
        "cpu_ms_per_request": round(1000 * sum(cpu.values()) / max(summary.requests, 1), 1),
        "present": dict(summary.present),
        "cores": os.cpu_count(),
    }


def measure(scale: int = 2500, concurrency: int | None = None, profile: Sequence[str] = ()) -> dict[str, Any]:
    """Start the platform as ``./dev run`` does and time the demo load on it (blocking: bench/run.py
    calls it in a thread); with ``profile``, those services under cProfile, summarised in
    ``result["profiles"]`` (service → bench.profiling.summarise)."""
    if not profile:
        with platform() as p:
            time.sleep(5)  # the services' consumers join their groups before the first write
            return load(p, scale=scale, concurrency=concurrency)
    with tempfile.TemporaryDirectory(prefix="demo-profile-") as tmp:
        profile_dir = Path(tmp)
        with platform(profile, profile_dir) as p:
            time.sleep(5)
            result = load(p, scale=scale, concurrency=concurrency, profiled=profile)
        # the platform has stopped: each profiled service wrote its profile at SIGTERM
        missing = [s for s in profile if not (profile_dir / f"{s}.prof").exists()]
        if missing:
            raise RuntimeError(f"no profile written by {', '.join(missing)} (killed before it could write it?)")
        result["profiles"] = {s: profiling.summarise(profile_dir / f"{s}.prof") for s in profile}
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"demo load, scale {result['scale']:,}, concurrency {result['concurrency']}: "
        f"{result['seconds']:.0f} s, {result['requests']:,} requests, {result['requests_per_second']:.0f} req/s "
        f"(goal ≤ {GOAL_SECONDS:.0f} s on 2 cores; this machine: {result['cores']} cores)",
        "  phase          seconds  requests",
    ]
    for phase, seconds in result["phase_seconds"].items():
        lines.append(f"  {phase:<14}{seconds:>8.1f}{result['phase_requests'].get(phase, 0):>10,}")
    cpu = result["cpu_seconds"]
    lines.append(
        f"  CPU seconds: {', '.join(f'{k} {v:.1f}' for k, v in cpu.items())}; "
        f"total {sum(cpu.values()):.0f} s = {result['cpu_ms_per_request']} ms per request"
    )
    if result.get("profiles"):
        lines += ["", profile_section(result)]
    return "\n".join(lines)


def profile_section(result: dict[str, Any]) -> str:
    """The profiles of a ``--profile`` run as markdown: this module's console output and, when the
    demo row carries them, bench/run.py's note."""
    profiles: dict[str, dict[str, Any]] = result.get("profiles") or {}
    if not profiles:
        return ""
    parts = [
        f"### demo: {', '.join(profiles)} under cProfile while the demo city of {result['scale']:,} loads",
        "",
        "CPU time (bench/profiled.py: cProfile timed by `time.process_time`, all threads of the process) from "
        f"the load's first request until the platform stopped. With the profiler on, the load took "
        f"{result['seconds']:.0f} s ({result['requests']:,} requests): the profiled services run slower than in "
        "the unprofiled row.",
        "",
    ]
    for service, summary in profiles.items():
        cpu = result["cpu_seconds"].get(service)
        during = f"; the process used {cpu:.1f} s CPU during the load" if cpu is not None else ""
        parts += [
            f"#### {service}: {summary['busy_seconds']:.1f} s CPU profiled{during}",
            "",
            profiling.render(summary),
            "",
        ]
    return "\n".join(parts).rstrip()


def row(result: dict[str, Any]) -> dict[str, Any]:
    """The "demo load" row of bench/run.py's table (its ``Row`` fields): no bare baseline, a goal in seconds."""
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in result["phase_seconds"].items() if v >= 1)
    cpu = result["cpu_seconds"]
    busiest = ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])[:4])
    return {
        "key": "demo",
        "name": f"demo load: the first ./dev run's demo city ({result['scale']:,} institutions)",
        "bare": "—",
        "platform": f"{result['seconds']:.0f} s, {result['requests']:,} req ({result['requests_per_second']:.0f}/s)",
        "ratio": result["seconds"] / GOAL_SECONDS,
        "goal": f"≤ {GOAL_SECONDS:.0f} s",
        "gap": result["seconds"] / GOAL_SECONDS,
        "note": f"phases: {phases}; CPU s (busiest): {busiest}; {result['cpu_ms_per_request']} CPU ms per request "
        "(`python -m bench.demo_load`)"
        + (
            f"; measured with {', '.join(result['profiles'])} under cProfile (slower than unprofiled)"
            if result.get("profiles")
            else ""
        ),
    }


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=2500, help="institutions (./dev run's default: 2500)")
    parser.add_argument("--concurrency", type=int, help="the generator's requests in flight (its default)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--profile",
        default="",
        metavar="SERVICE[,SERVICE…]",
        help="run these services under cProfile during the load and report where their CPU goes "
        f"(e.g. {','.join(PROFILED)}; slows them)",
    )
    args = parser.parse_args(argv)
    profile = [s.strip() for s in args.profile.split(",") if s.strip()]
    if unknown := set(profile) - set(SERVICES):
        parser.error(f"--profile: no such service: {', '.join(sorted(unknown))} (services: {', '.join(SERVICES)})")
    signal.signal(signal.SIGTERM, _interrupt)  # stopped by a signal: the platform it started stops too
    result = measure(args.scale, args.concurrency, profile)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
