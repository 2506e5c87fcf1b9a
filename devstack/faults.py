"""Machinery for fault runs: service processes that can be SIGKILLed and restarted, a load
generator that keeps going through refused connections, and the figures a run prints.

Used by ``tests/faults``. Every service runs as its own ``uvicorn`` process (as ``./dev run``
starts it), so a SIGKILL is a real process death: no ``finally`` block, no offset commit, no
graceful consumer-group leave.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.run import service_command
from shared.identifiers import resident_id_check_char, uscc_check_char
from shared.workdays import china_today

ROOT = Path(__file__).resolve().parent.parent


def service_env(
    service: str,
    *,
    database_url: str,
    bootstrap: str,
    namespace: str,
    partitions: int = 3,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one service process (``<SERVICE>_*`` settings, see shared/settings.py)."""
    prefix = service.upper()
    env = {k: v for k, v in os.environ.items() if not k.startswith(f"{prefix}_")}
    env.update(
        {
            f"{prefix}_DATABASE_URL": database_url,
            f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{prefix}_KAFKA_NAMESPACE": namespace,
            f"{prefix}_ENVIRONMENT": "development",
            f"{prefix}_TOPIC_PARTITIONS": str(partitions),
            f"{prefix}_OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
            f"{prefix}_CONSUMER_SESSION_TIMEOUT_MS": "6000",
            f"{prefix}_CONSUMER_RETRY_BACKOFF_SECONDS": "0.05",
            f"{prefix}_DB_POOL_SIZE": "5",
            f"{prefix}_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra or {})
    return env


class ServiceProcess:
    """One uvicorn process of one service. ``kill()`` is SIGKILL; ``start()`` may be called again."""

    def __init__(self, service: str, *, port: int, env: dict[str, str], log_dir: Path, instance: str = "a") -> None:
        self.service = service
        self.port = port
        self.env = env
        self.instance = instance
        self.log = log_dir / f"{service}-{instance}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return f"{self.service}-{self.instance}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n===== start #{self.starts + 1} at {time.time():.3f} =====\n".encode())
            self.proc = subprocess.Popen(
                service_command(self.service, self.port),  # as ./dev run starts it: uvloop, httptools
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: what an OOM kill or a power cut leaves behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout: float = 30.0) -> None:
        """SIGTERM (graceful: offsets committed, group left), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    async def wait_ready(self, within: float = 90.0) -> float:
        """Poll /readyz until 200; returns the seconds it took."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                if time.monotonic() - started > within:
                    raise TimeoutError(f"{self.name} not ready after {within:.0f}s; see {self.log}")
                await asyncio.sleep(0.2)


# --- a client that outlasts the services it talks to -----------------------------------------


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    attempts: int

    @property
    def code(self) -> str | None:
        error = self.body.get("error")
        return str(error.get("code")) if isinstance(error, dict) else None


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    refused: int = 0  # connection refused / reset / timed out while a service was down
    server_errors: Counter[str] = field(default_factory=Counter)  # "<status> <method> <route>"
    latency: dict[str, list[float]] = field(default_factory=dict)  # route -> seconds of answered requests

    def latency_summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for route, values in sorted(self.latency.items()):
            ordered = sorted(values)
            out[route] = {
                "n": len(ordered),
                "p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
                "p95_ms": round(1000 * ordered[int(len(ordered) * 0.95)], 1),
            }
        return out


class PatientClient:
    """Sends a request until some service process answers it, repeating the SAME request (same
    body) after a refused or broken connection: a write whose answer was lost is either not done
    (repeated now) or done (the repeat gets the service's "already" conflict, which callers treat
    as done). A 5xx is counted (a platform must never answer one) and retried."""

    def __init__(self, *, timeout: float = 15.0, give_up_after: float = 120.0) -> None:
        self.client = httpx.AsyncClient(timeout=timeout)
        self.give_up_after = give_up_after
        self.stats = ClientStats()

    async def close(self) -> None:
        await self.client.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        route: str,
        headers: dict[str, str],
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Answer:
        deadline = time.monotonic() + self.give_up_after
        attempts = 0
        delay = 0.1
        while True:
            attempts += 1
            self.stats.requests += 1
            sent_at = time.monotonic()
            try:
                response = await self.client.request(method, url, headers=headers, json=json_body, content=content)
            except httpx.TransportError:
                self.stats.refused += 1
            else:
                self.stats.latency.setdefault(f"{method} {route}", []).append(time.monotonic() - sent_at)
                if response.status_code < 500:
                    body = response.json() if response.content else {}
                    return Answer(response.status_code, body if isinstance(body, dict) else {"items": body}, attempts)
                self.stats.server_errors[f"{response.status_code} {method} {route}"] += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {url}: no answer within {self.give_up_after:.0f}s")
            self.stats.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)


# --- the generated load -------------------------------------------------------------------------

DOCUMENT_KINDS = ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence")
# (district code, a street of it, a point inside the city)
PLACES = (
    ("440106", "440106001", 23.1291, 113.3240),
    ("440104", "440104001", 23.1290, 113.2668),
    ("440105", "440105001", 23.0960, 113.3170),
    ("440103", "440103001", 23.1259, 113.2443),
)


def uscc_for(run: str, n: int) -> str:
    """A checksum-valid 统一社会信用代码, unique per (run, n)."""
    body = f"91440106M{int(run, 16) % 100:02d}{n:06d}"  # 8 + 9-character organisation code
    return body + uscc_check_char(body)


def resident_id_for(n: int, k: int) -> str:
    """A checksum-valid synthetic 公民身份号码 for hire k of institution n (unique within a run)."""
    birth = date(1975, 1, 1) + timedelta(days=n)
    first17 = f"440106{birth:%Y%m%d}{k:03d}"
    return first17 + resident_id_check_char(first17)


@dataclass
class InstitutionPlan:
    """What the generator will do with institution n; drawn up front from the seed."""

    n: int
    uscc: str
    place: tuple[str, str, float, float]
    file: bool  # decide "file" (予以备案); otherwise leave it waiting for a decision
    hires: int
    annual_report: bool


def draw_plans(seed: int, count: int, run: str) -> list[InstitutionPlan]:
    rng = random.Random(seed)
    plans = []
    for n in range(count):
        filed = rng.random() < 0.9
        plans.append(
            InstitutionPlan(
                n=n,
                uscc=uscc_for(run, n),
                place=PLACES[rng.randrange(len(PLACES))],
                file=filed,
                hires=rng.choice((1, 2, 3)) if filed else 0,
                annual_report=filed and rng.random() < 0.7,
            )
        )
    return plans


def institution_body(plan: InstitutionPlan, documents: dict[str, str]) -> dict[str, Any]:
    district, street, lat, lng = plan.place
    return {
        "uscc": plan.uscc,
        "name": f"故障演练第{plan.n:04d}号托育中心",
        "organiser_type": "enterprise",
        "operating_model": "private",
        "service_types": ["full_day"],
        "district": district,
        "street_code": street,
        "address": f"演练路{plan.n}号",
        "latitude": lat,
        "longitude": lng,
        "premises_area_m2": 480.0,
        "classes": [{"class_type": "toddler", "size": 15}, {"class_type": "older", "size": 20}],
        "puhui_slots": 20,
        "monthly_fee_yuan": 3800,
        "meals": True,
        "documents": documents,
    }


def hire_body(plan: InstitutionPlan, k: int) -> dict[str, Any]:
    today = china_today()
    return {
        "name": f"演练员工{k}",
        "id_number": resident_id_for(plan.n, k),
        "role": "carer",
        "certificates": [{"kind": "保育师证", "number": f"BY-{plan.n:04d}-{k}", "expires_on": None}],
        "health_certificate_expires_on": (today + timedelta(days=300)).isoformat(),
        "training": [],
        "hired_on": (today - timedelta(days=7)).isoformat(),
    }


ANNUAL_REPORT = {
    "enrolment": [{"class_type": "toddler", "children": 12}, {"class_type": "older", "children": 18}],
    "staff": {"carers": 6, "health": 1, "principal": 1, "other": 2},
    "incidents": {"count": 0, "descriptions": []},
    "fees": {"monthly_fee_yuan": 3800, "puhui_monthly_fee_yuan": 2600},
}


@dataclass
class Sent:
    """What the generator got done, keyed by what it sent: the independent expectation."""

    institutions: dict[str, str] = field(default_factory=dict)  # uscc -> institution id
    filed: set[str] = field(default_factory=set)  # institution ids decided "file"
    hires: Counter[str] = field(default_factory=Counter)  # institution id -> people hired
    annual_reports: set[str] = field(default_factory=set)  # institution ids with a report
    already_done: Counter[str] = field(default_factory=Counter)  # "already" answers to repeats, by code
    done: int = 0  # institutions whose whole plan is done


class LoadGenerator:
    """Works through the plans with ``workers`` concurrent officers' sessions."""

    def __init__(
        self,
        *,
        filing_url: str,
        officer: dict[str, str],
        decider: dict[str, str],
        plans: list[InstitutionPlan],
        lookup_institution: Callable[[str], Awaitable[str]],
        workers: int = 10,
        year: int | None = None,
    ) -> None:
        self.filing = filing_url
        self.officer = officer
        self.decider = decider  # another officer: who submits a filing does not decide it (shared/duties.py)
        self.plans = plans
        self.lookup_institution = lookup_institution
        self.workers = workers
        self.year = year or china_today().year
        self.client = PatientClient()
        self.sent = Sent()
        self.documents: dict[str, str] = {}

    async def _expect(self, answer: Answer, ok: int, already: str, what: str) -> bool:
        """True if done now, False if it had been done before (the answer to a repeat)."""
        if answer.status == ok:
            return True
        if answer.status == 409 and answer.code == already and answer.attempts > 1:
            self.sent.already_done[already] += 1
            return False
        raise AssertionError(f"{what}: unexpected answer {answer.status} {answer.body}")

    async def upload_documents(self) -> None:
        headers = {**self.officer, "Content-Type": "application/pdf"}
        for kind in DOCUMENT_KINDS:
            answer = await self.client.send(
                "POST",
                f"{self.filing}/v1/documents",
                route="/v1/documents",
                headers=headers,
                content=b"%PDF-1.7\n% fault run\n" + kind.encode() + b"\n%%EOF\n",
            )
            assert answer.status == 201, answer.body
            self.documents[kind] = str(answer.body["sha256"])

    async def run_plan(self, plan: InstitutionPlan) -> None:
        answer = await self.client.send(
            "POST",
            f"{self.filing}/v1/institutions",
            route="/v1/institutions",
            headers=self.officer,
            json_body=institution_body(plan, self.documents),
        )
        if await self._expect(answer, 201, "uscc_already_filed", "submit"):
            institution_id = str(answer.body["id"])
        else:  # filed by the attempt whose answer was lost: ask the filing database for its id
            institution_id = await self.lookup_institution(plan.uscc)
        self.sent.institutions[plan.uscc] = institution_id
        base = f"{self.filing}/v1/institutions/{institution_id}"
        if plan.file:
            answer = await self.client.send(
                "POST",
                f"{base}/decision",
                route="/v1/institutions/{id}/decision",
                headers=self.decider,
                json_body={"decision": "file"},
            )
            await self._expect(answer, 200, "illegal_transition", "decide")
            self.sent.filed.add(institution_id)
        for k in range(plan.hires):
            answer = await self.client.send(
                "POST",
                f"{base}/staff",
                route="/v1/institutions/{id}/staff",
                headers=self.officer,
                json_body=hire_body(plan, k),
            )
            await self._expect(answer, 201, "already_employed", "hire")
            self.sent.hires[institution_id] += 1
        if plan.annual_report:
            answer = await self.client.send(
                "POST",
                f"{base}/annual-reports/{self.year}",
                route="/v1/institutions/{id}/annual-reports/{year}",
                headers=self.officer,
                json_body=ANNUAL_REPORT,
            )
            await self._expect(answer, 201, "annual_report_exists", "annual report")
            self.sent.annual_reports.add(institution_id)
        self.sent.done += 1

    async def run(self) -> Sent:
        if not self.documents:
            await self.upload_documents()
        queue: asyncio.Queue[InstitutionPlan] = asyncio.Queue()
        for plan in self.plans:
            queue.put_nowait(plan)

        async def worker() -> None:
            while True:
                try:
                    plan = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.run_plan(plan)

        await asyncio.gather(*(worker() for _ in range(self.workers)))
        return self.sent

    @property
    def progress(self) -> float:
        return self.sent.done / max(len(self.plans), 1)


# --- figures ------------------------------------------------------------------------------------

# Log lines (shared/consumer.py, shared/outbox.py, shared/app.py) that show a recovery path ran.
RECOVERY_MESSAGES = (
    "outbox publish failed, will retry",
    "consumer loop failed; restarting",
    "offset commit refused after a rebalance; the inbox absorbs the redelivery",
    "offset commit failed; the inbox absorbs the redelivery",
    "database unavailable; retrying",
    "handler failed; retrying",
    "dead-letter publish failed; retrying",
    "event dead-lettered",
    "creating topics failed; retrying",
    "partitions assigned",
)


def recovery_paths(log_dir: Path) -> dict[str, dict[str, int]]:
    """How often each recovery message appears in each process's JSON log."""
    found: dict[str, dict[str, int]] = {}
    for path in sorted(log_dir.glob("*.log")):
        counts: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                message = json.loads(line).get("msg", "")
            except ValueError:
                continue
            if message in RECOVERY_MESSAGES:
                counts[message] += 1
        found[path.stem] = dict(sorted(counts.items()))
    return found


def report_figures(figures: dict[str, Any], path: Path) -> None:
    """Print the run's figures (``pytest -s`` shows them) and keep them as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str) + "\n")
    print("\n=== fault run figures ===", flush=True)
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"  {key}:")
            for k, v in value.items():
                print(f"    {k}: {v}")
        else:
            print(f"  {key}: {value}")
    print(f"  (also in {path})", flush=True)
