"""What every benchmark stands on: a private Kafka broker and a private PostgreSQL server in a temp
dir (never the developer's running platform), fresh migrated databases, the service processes, and
the measuring helpers (percentiles, resident memory, machine facts)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from devstack.kafka import LocalKafka, free_port, jar_dir
from devstack.postgres import SERVICES, LocalPostgres
from shared.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def plain_url(url: str) -> str:
    """asyncpg wants ``postgresql://``; SQLAlchemy URLs carry ``+asyncpg``."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mib(pid: int | None = None) -> float:
    """Current resident set size (VmRSS) of a process, from /proc/<pid>/status."""
    path = Path(f"/proc/{pid or os.getpid()}/status")
    try:
        for line in path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time a process has used so far, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class RssSampler:
    """Samples the RSS of some processes every ``every`` seconds on a thread (the event loop may be
    busy); ``peak`` is the largest value seen per pid."""

    def __init__(self, pids: dict[str, int], every: float = 0.2) -> None:
        self.pids = pids
        self.every = every
        self.peak: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                value = rss_mib(pid)
                if value == value:  # not NaN
                    self.peak[name] = max(self.peak[name], value)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Stack:
    """The benchmark's own broker and database server."""

    workdir: Path
    kafka: LocalKafka
    pg: LocalPostgres
    templates: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def fresh_db(self, service: str, label: str) -> str:
        """A new database migrated to head (cloned from a per-service template); returns the URL of
        the service's runtime role, which the platform path runs as."""
        name = f"b_{label}_{uuid.uuid4().hex[:6]}"
        return self.pg.create_service_database(name, service, template=f"tpl_{service}")

    async def pg_version(self) -> str:
        conn = await asyncpg.connect(plain_url(self.pg.url("postgres")))
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()


@contextlib.contextmanager
def stack(workdir: Path) -> Iterator[Stack]:
    kafka = LocalKafka(workdir / "kafka", plaintext_baseline_port=free_port())
    pg = LocalPostgres(workdir / "pg", delete_on_exit=True)
    try:
        kafka.start()
        pg.start()
        s = Stack(workdir, kafka, pg)
        for service in SERVICES:
            # migrated as the owner role; every copy is used as the runtime role, as in production
            pg.create_database(f"tpl_{service}", service=service)
            upgrade(service, pg.owner_url(f"tpl_{service}", service))
        yield s
    finally:
        kafka.stop()
        pg.stop()


# --- service processes -----------------------------------------------------------------------------


@dataclass
class ServiceProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> float:
        return rss_mib(self.proc.pid)

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_uvicorn(
    name: str,
    target: str,
    env: dict[str, str],
    logdir: Path,
    *,
    profile_to: Path | None = None,
    workers: int = 1,
) -> ServiceProcess:
    """One uvicorn worker on a free loopback port, as ``./dev run`` starts the services (uvloop,
    httptools: devstack.run.service_command); or ``workers`` worker processes under uvicorn's
    supervisor, sharing the port (the supervisor's pid is ``pid``; the workers are its children)."""
    port = free_port()
    log = logdir / f"{name}.log"
    if profile_to is not None:
        command = [sys.executable, "-m", "bench.profiled", str(profile_to), str(port), target]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        if workers > 1:
            command += ["--workers", str(workers)]
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    return ServiceProcess(name, port, proc, log)


def service_env(service: str, url: str, bootstrap: str, **extra: str) -> dict[str, str]:
    prefix = service.upper()
    env = {
        f"{prefix}_DATABASE_URL": url,
        f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        f"{prefix}_ENVIRONMENT": "development",
        f"{prefix}_LOG_LEVEL": "WARNING",
    }
    env.update({f"{prefix}_{k.upper()}": v for k, v in extra.items()})
    return env


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return int(response.status)
    except Exception:
        return 0


async def wait_ready(services: Sequence[ServiceProcess], path: str = "/readyz", within: float = 120) -> None:
    deadline = time.monotonic() + within
    pending = list(services)
    while pending:
        for svc in list(pending):
            if svc.proc.poll() is not None:
                raise RuntimeError(f"{svc.name} exited ({svc.proc.returncode}); see {svc.log}")
            if await asyncio.to_thread(_get_status, svc.base + path) == 200:
                pending.remove(svc)
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready within {within:.0f}s: {[s.name for s in pending]}")
        await asyncio.sleep(0.2)


# --- machine facts ---------------------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    load = os.getloadavg()
    jars = sorted(p.name for p in jar_dir().glob("kafka_2.13-*.jar"))
    kafka_version = jars[0].removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "unknown"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = "unknown"
    from importlib.metadata import version

    libs = {name: version(name) for name in ("aiokafka", "asyncpg", "sqlalchemy", "fastapi", "starlette", "uvicorn")}
    return {
        "cpu": f"{models[0] if models else platform.processor()} × {os.cpu_count()} logical CPUs",
        "memory": f"{mem_kib / 2**20:.1f} GiB",
        "load_at_start": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "kafka": kafka_version,
        "java": java,
        "libraries": ", ".join(f"{k} {v}" for k, v in libs.items()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def dump_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False, default=str))
