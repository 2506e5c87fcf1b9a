"""Fixtures of the operations tests: the four services running in-process against the real broker
and real PostgreSQL (tests.support.Platform), and their live ``/metrics`` text, fetched once per
module run so every check looks at the same scrape."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devstack.kafka import LocalKafka
from devstack.postgres import SERVICES, LocalPostgres
from shared.kafka_access import MONITOR_PRINCIPAL
from shared.lag_exporter import LagExporter
from tests.support import Platform, eventually

ROOT = Path(__file__).resolve().parents[2]

# Domain metrics that the periodic jobs export after their first run (a few hundred milliseconds
# after start-up); the scrape waits for them so the cross-checks never race the jobs.
JOB_EXPORTED = {
    "filing": ("childcare_filing_decisions_overdue", "childcare_annual_reports_overdue"),
    "inspection": ("childcare_inspection_results_publication_overdue", "childcare_inspection_plans_drawn"),
    "credit": ("childcare_credit_regrades_total", "childcare_credit_grade_changes"),
    "reporting": (),
}


# A made-up id sent in a path; it must never show up in a metric label.
PROBE_ID = "0b0e5f6c-1d2a-4f3b-9c8d-7e6f5a4b3c2d"


def parameterised_route(platform: Platform, service: str) -> str | None:
    """The template of the first GET route with a path parameter (from the app's own OpenAPI)."""
    for path, operations in platform.apps[service].openapi()["paths"].items():
        if "{" in path and "get" in operations:
            return str(path)
    return None


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # ./dev bootstrap installs it; a bare pytest run on a new machine must say why
        pytest.fail(f"{name} is not installed: run ./dev test (its bootstrap installs it) or apt-get install it")
    return path


@pytest.fixture(scope="package")
async def platform(kafka: LocalKafka, pg: LocalPostgres) -> AsyncIterator[Platform]:
    namespace = f"ops{uuid.uuid4().hex[:8]}."
    kafka.provision(namespace)
    names = {s: f"ops_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
    urls = {s: pg.create_service_database(names[s], s, template=f"tpl_{s}") for s in SERVICES}
    try:
        async with Platform(kafka.bootstrap, namespace, urls) as p:
            yield p
    finally:
        for name in names.values():
            pg.drop_database(name)


@pytest.fixture(scope="package")
async def live_metrics(platform: Platform, kafka: LocalKafka) -> dict[str, str]:
    """service -> the text of its ``/metrics`` after some traffic: ops routes, a 404, and a request
    to a route with a path parameter (its label must be the template, never the id); and "kafka"
    -> the lag exporter's (the `kafka` scrape job), read as the monitor principal."""
    for service, client in platform.clients.items():
        await client.get("/healthz")
        await client.get("/readyz")
        await client.get(f"/no-such-route/{PROBE_ID}")
        template = parameterised_route(platform, service)
        if template is not None:
            await client.get(re.sub(r"\{[^}]+\}", PROBE_ID, template))

    async def jobs_ran() -> bool:
        for service, names in JOB_EXPORTED.items():
            text = (await platform.clients[service].get("/metrics")).text
            if any(f"\n{name} " not in text and f"\n{name}{{" not in text for name in names):
                return False
        return True

    await eventually(jobs_ran, within=30)
    scraped = {}
    for service, client in platform.clients.items():
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        scraped[service] = response.text
    exporter = LagExporter(kafka.access(MONITOR_PRINCIPAL), namespace=platform.namespace)
    try:
        assert await exporter.refresh()
        scraped["kafka"] = exporter.registry_text()
    finally:
        await exporter.close()
    return scraped
