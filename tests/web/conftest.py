"""The platform as people meet it: the four services as real processes (uvicorn on free ports, the
test run's Kafka broker and PostgreSQL), the demo city loaded at a small scale through the APIs, the
pages served by the filing service, and Debian's Chromium driven headless by Playwright.

No browser is downloaded: Playwright drives /usr/bin/chromium (``./dev`` bootstrap installs it).
Every request the pages make is checked: one to a host outside this machine fails the test.
Screenshots go to ``.local/artifacts/web/`` (or ``$CHILDCARE_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.demo import Summary, generate
from devstack.kafka import LocalKafka, free_port
from devstack.oidc import LocalOidcProvider, inspector_redirect_uris, workbench_redirect_uris
from devstack.ports import free_port_block
from devstack.postgres import SERVICES, LocalPostgres
from shared.auth import mint_token
from shared.settings import ServiceSettings
from tests.support import admin_access

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = Path(os.environ.get("CHILDCARE_ARTIFACTS", ROOT / ".local" / "artifacts")) / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCALE = 40
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these, Chromium phones home at start (refused on this machine's closed network)
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--metrics-recording-only",
]


@dataclass
class WebPlatform:
    urls: dict[str, str]
    summary: Summary
    token_settings: ServiceSettings
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    bootstrap: str = ""
    namespace: str = ""
    # each service's database, for a test that must set a fact no API sets (a publication time)
    databases: dict[str, str] = field(default_factory=dict)
    pg: LocalPostgres | None = None
    # the OpenID Connect provider (devstack/oidc/) the services trust and the workbench signs in through
    oidc_issuer: str = ""
    # What tests added to this shared platform beyond the demo (results they had published, persons a
    # confirmed violation of theirs banned, institutions their decisions filed), so that a test
    # comparing with the demo's summary stays exact whatever order the tests run in.
    results_published_by_tests: int = 0
    persons_banned_by_tests: list[str] = field(default_factory=list)
    institutions_filed_by_tests: int = 0
    institutions_suspended_by_tests: list[str] = field(default_factory=list)

    @property
    def institutions_filed(self) -> int:
        """Filed institutions now: the demo's, plus those a test's decision filed, less those a
        child-abuse case of a test suspended (暂停收托)."""
        return (
            int(self.summary.present["institutions_filed"])
            + self.institutions_filed_by_tests
            - len(self.institutions_suspended_by_tests)
        )

    def filing_status(self, institution_id: str) -> str:
        status, institution = self.get("filing", f"/v1/institutions/{institution_id}", "supervisor")
        assert status == 200, institution
        return str(institution["status"])

    async def note_suspension(self, institution_id: str, was_filed: bool, violations: list[dict[str, Any]]) -> None:
        """After a test's review confirmed ``violations``: a child-abuse case suspends a filed
        institution (filing consumes the confirmation); wait for it, so that what the next test
        counts is settled, and record it."""
        if not was_filed or not any(v["code"] == "CHILD_ABUSE" for v in violations):
            return
        deadline = time.monotonic() + 60
        while self.filing_status(institution_id) != "suspended":
            if time.monotonic() > deadline:
                raise AssertionError(f"institution {institution_id} not suspended within 60 s of a child-abuse case")
            await asyncio.sleep(0.3)
        self.institutions_suspended_by_tests.append(institution_id)

    @property
    def pages(self) -> str:
        return f"{self.urls['filing']}/ui"

    def token(self, *roles: str, subject: str = "web-test") -> str:
        return mint_token(self.token_settings, subject=subject, roles=list(roles))

    def get(self, service: str, path: str, *roles: str) -> tuple[int, Any]:
        request = urllib.request.Request(self.urls[service] + path)
        if roles:
            request.add_header("Authorization", f"Bearer {self.token(*roles)}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


def _wait_ready(urls: dict[str, str], processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 120
    pending = dict(urls)
    while pending:
        for service, url in list(pending.items()):
            proc = processes[SERVICES.index(service)]
            if proc.poll() is not None:
                raise RuntimeError(f"{service} exited: {(logs / f'{service}.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        del pending[service]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready: {sorted(pending)}")
        time.sleep(0.3)


async def _pending_work(bootstrap: str, namespace: str, database_urls: list[str]) -> int:
    """Events not yet published (outboxes) plus events not yet consumed (every consumer group's lag)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from sqlalchemy import text

    from shared.db import Database

    pending = 0
    admin = AIOKafkaAdminClient(**admin_access(bootstrap).aiokafka())
    consumer = AIOKafkaConsumer(**admin_access(bootstrap).aiokafka())
    await admin.start()
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata of every topic (partitions_for_topic needs it)
        groups = [g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(namespace)]
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            topics = {tp.topic for tp in committed}
            partitions = [
                TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
            ]
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
                pending += max(0, ends[tp] - done)
    finally:
        await consumer.stop()
        await admin.close()
    for url in database_urls:
        db = Database(url, pool_size=1)
        try:
            async with db.transaction() as session:
                pending += int(
                    (await session.execute(text("select count(*) from outbox where published_at is null"))).scalar_one()
                )
        finally:
            await db.dispose()
    return pending


def wait_until_quiet(bootstrap: str, namespace: str, database_urls: list[str], within: float = 180) -> None:
    """Until every service has published every event and every consumer has caught up (twice in a
    row: catching up may publish more), so that every read model shows the same state."""
    deadline = time.monotonic() + within
    quiet = 0
    while quiet < 2:
        quiet = quiet + 1 if asyncio.run(_pending_work(bootstrap, namespace, database_urls)) == 0 else 0
        if time.monotonic() > deadline:
            raise RuntimeError(f"the platform did not settle within {within:.0f}s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def web_platform(kafka: LocalKafka, pg: LocalPostgres, tmp_root: Path) -> Iterator[WebPlatform]:
    if not (WEB / "vendor" / "echarts.min.js").exists():
        pytest.fail("web/vendor/ is missing: run `cd web && npm ci && npm run vendor` (./dev bootstrap does)")
    base = free_port_block()  # the services at base+1 … base+4, as ./dev run
    ports = {s: base + n for n, s in enumerate(SERVICES, start=1)}
    origin = f"http://127.0.0.1:{ports['filing']}"
    namespace = f"w{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    logs = tmp_root / "web-logs"
    logs.mkdir(exist_ok=True)
    databases = {s: f"web_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
    processes: list[subprocess.Popen[bytes]] = []
    # the officers' sign-in (the workbench, /ui/work/, and the inspectors' app on the inspection
    # service, /ui/inspector/): a real provider, as ./dev run starts one
    oidc = LocalOidcProvider(
        tmp_root / "web-oidc",
        free_port(),
        redirect_uris=workbench_redirect_uris([origin])
        + inspector_redirect_uris([f"http://127.0.0.1:{ports['inspection']}"]),
    )
    try:
        oidc.start()
        for service in SERVICES:
            url = pg.create_service_database(databases[service], service, template=f"tpl_{service}")
            prefix = service.upper()
            env = {
                **os.environ,
                f"{prefix}_DATABASE_URL": url,
                f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                f"{prefix}_KAFKA_NAMESPACE": namespace,
                f"{prefix}_ENVIRONMENT": "test",
                f"{prefix}_TOPIC_PARTITIONS": "3",
                f"{prefix}_OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
                f"{prefix}_CONSUMER_SESSION_TIMEOUT_MS": "6000",
                f"{prefix}_CORS_ORIGINS": json.dumps([origin]),
                f"{prefix}_OIDC_ISSUER": oidc.issuer,  # development tokens stay accepted (not production)
            }
            if service in ("filing", "inspection"):  # inspection serves the inspectors' app (same origin)
                env[f"{prefix}_WEB_DIR"] = str(WEB)
            if service == "inspection":
                # every browser test is one client address; the per-address limit has its own tests
                env[f"{prefix}_COMPLAINT_IP_BURST"] = "100"
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--factory", f"services.{service}.app:create_app",
                     "--host", "127.0.0.1", "--port", str(ports[service]), "--no-access-log"],
                    cwd=ROOT,
                    env=env,
                    stdout=(logs / f"{service}.log").open("ab"),
                    stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        _wait_ready(urls, processes, logs)
        settings = ServiceSettings(environment="test")
        summary = asyncio.run(generate(urls, scale=SCALE, seed=11, token_settings=settings, out=None))
        wait_until_quiet(kafka.bootstrap, namespace, [pg.url(name) for name in databases.values()])
        yield WebPlatform(
            urls=urls,
            summary=summary,
            token_settings=settings,
            logs=logs,
            processes=processes,
            bootstrap=kafka.bootstrap,
            namespace=namespace,
            databases=databases,
            pg=pg,
            oidc_issuer=oidc.issuer,
        )
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for name in databases.values():
            if pg.database_exists(name):
                pg.drop_database(name)
        oidc.stop()


@dataclass
class RequestLog:
    external: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing (pyproject [dev]); it drives the system Chromium")
    if not HAVE_CHROMIUM:
        pytest.fail("Debian's chromium is not installed (./dev bootstrap installs it: apt-get install chromium)")
    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        await instance.close()


class PageFactory:
    """New pages (desktop or phone) whose every request is checked: a request to any host outside
    this machine is aborted and recorded, and fails the test."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.log = RequestLog()
        self.contexts: list[Any] = []

    async def _guard(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            await route.continue_()
        elif parts.hostname in LOCAL_HOSTS:
            self.log.local.append(url)
            await route.continue_()
        else:
            self.log.external.append(url)
            await route.abort()

    async def __call__(
        self, width: int = 1280, height: int = 900, mobile: bool = False, timezone_id: str | None = None
    ) -> Any:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            has_touch=mobile,
            locale="zh-CN",
            timezone_id=timezone_id,
        )
        self.contexts.append(context)
        await context.route("**/*", self._guard)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.log.errors.append(str(exc)))
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(browser: Any) -> AsyncIterator[PageFactory]:
    factory = PageFactory(browser)
    yield factory
    await factory.close()
    assert factory.log.external == [], f"pages requested hosts outside this machine: {factory.log.external}"
    assert factory.log.errors == [], f"JavaScript errors: {factory.log.errors}"


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"


def keep_for_docs(name: str) -> None:
    """Copy a test's screenshot to docs/screenshots when asked (CHILDCARE_DOCS_SCREENSHOTS=1): an
    ordinary test run leaves the working tree as it found it; the artefacts always have the image."""
    if os.environ.get("CHILDCARE_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(screenshot_path(name), DOCS_SCREENSHOTS / name)


async def wait_for_js(page: Any, expression: str, *, within_ms: float = 30_000) -> None:
    """Wait until ``expression`` is truthy in the page. Not ``page.wait_for_function``: it compiles the
    expression inside the page (eval), which the pages' Content-Security-Policy forbids (no
    'unsafe-eval'); ``page.evaluate`` of an expression is the DevTools protocol's, outside the CSP."""
    deadline = time.monotonic() + within_ms / 1000
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within_ms / 1000:.0f} s: {expression}")
        await asyncio.sleep(0.1)
