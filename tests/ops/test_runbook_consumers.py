"""docs/runbook.md's consumer table is checked against the services' own consumer specs (the
``ConsumerSpec`` each service's app starts): every consumer is listed, with exactly the topics it
reads, its group and its dead-letter topic. Built without a broker or a database: the specs are
plain data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from services.credit.consumers import make_consumers
from services.credit.env import CreditEnv
from services.credit.policy.documents import POLICY_DIR, default_registry
from services.filing.consumers import consumers as filing_consumers
from services.inspection.consumers import consumers as inspection_consumers
from services.reporting.consumers import consumers as reporting_consumers
from shared.app import ConsumerSpec, ServiceContext
from shared.db import Database
from shared.metrics import Metrics
from shared.outbox import Outbox
from tests.ops.conftest import ROOT
from tests.support import settings_for


def specs() -> dict[str, tuple[str, ConsumerSpec]]:
    """consumer name → (service, spec), from each service's own consumer factory."""
    registry = default_registry(str(POLICY_DIR))
    credit_env = CreditEnv(registry=registry, default_version="v1", now=lambda: datetime.now(UTC))
    factories: dict[str, Callable[[ServiceContext], list[ConsumerSpec]]] = {
        "filing": filing_consumers,
        "inspection": inspection_consumers,
        "credit": make_consumers(credit_env),
        "reporting": reporting_consumers,
    }
    found: dict[str, tuple[str, ConsumerSpec]] = {}
    for service, factory in factories.items():
        settings = settings_for(service)
        db = Database("postgresql+asyncpg://unused@127.0.0.1:1/unused", pool_size=1)  # never connected
        ctx = ServiceContext(
            settings=settings, db=db, outbox=Outbox(source=settings.source, namespace=""), metrics=Metrics(service)
        )
        for spec in factory(ctx):
            found[spec.name] = (service, spec)
    return found


def table(path: str, heading: str, topics_column: int) -> dict[str, tuple[str, list[str]]]:
    """consumer → (service, topics) from the table under ``heading``."""
    text = (ROOT / path).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) <= topics_column or not cells[0].startswith("`"):
            continue
        rows[cells[0].strip("`")] = (cells[1], re.findall(r"`(childcare\.[a-z.]+)`", cells[topics_column]))
    return rows


def check(documented: dict[str, tuple[str, list[str]]], where: str) -> None:
    running = specs()
    assert set(documented) == set(running), f"{where} lists other consumers than the services run"
    for name, (service, spec) in running.items():
        assert documented[name][0] == service, name
        assert documented[name][1] == list(spec.topics), f"{name}: {where} differs from its ConsumerSpec topics"


def test_runbook_consumer_table_matches_the_consumer_specs() -> None:
    check(table("docs/runbook.md", "## Consumer lag high", 2), "docs/runbook.md (Consumer lag high)")


def test_events_consumer_table_matches_the_consumer_specs() -> None:
    check(table("docs/events.md", "### Consumers and their groups", 3), "docs/events.md (Consumers and their groups)")
