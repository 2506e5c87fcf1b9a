"""Test infrastructure: one real Kafka broker and one real PostgreSQL server per test run.

* ``kafka``: Apache Kafka 4.x from Maven Central jars (devstack.kafka), started once.
* ``pg``: the embedded PostgreSQL server, started once; each service's schema is built by its own
  Alembic migrations into a template database, and tests get fresh copies (``fresh_db``) or a
  transaction that is rolled back at the end (``rollback_db``), connected as the service's runtime
  role (``<svc>_app``: no owner, no superuser). ``pg.url(name)`` is the superuser's URL,
  ``pg.owner_url(name, service)`` the owner role's.
* ``namespace``: a unique topic/consumer-group prefix per test, so tests never share topics; its
  topics and the services' ACLs on them are provisioned by the admin principal, as in production
  (SASL/SCRAM and ACLs are on in every test: ``kafka.access(principal)`` gives the credentials).

Tests marked by directory: ``tests/unit`` needs neither Kafka nor PostgreSQL, and asks for neither.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import LocalKafka
from devstack.postgres import SERVICES, LocalPostgres
from shared.db import Database
from shared.migrate import upgrade


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="childcare-tests-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def kafka(tmp_root: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_root / "kafka")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def pg(tmp_root: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(tmp_root / "pg", delete_on_exit=True).start()
    for service in SERVICES:
        # The template every test database is cloned from, built by the service's own migrations run
        # as its owner role, as in production; the copies keep the owner and the runtime role's grants.
        template = f"tpl_{service}"
        server.create_database(template, service=service)
        upgrade(service, server.owner_url(template, service))
    yield server
    server.stop()


@pytest.fixture
def fresh_db(pg: LocalPostgres) -> Iterator[Callable[[str], str]]:
    """``fresh_db("credit")`` -> URL of a new, migrated database as the service's runtime role
    (least privilege, as the service runs in production), dropped after the test. Tests that must do
    what the service may not (tamper with evidence, say) use ``pg.url(name)``, the superuser's."""
    created: list[str] = []

    def make(service: str) -> str:
        name = f"t_{service}_{uuid.uuid4().hex[:10]}"
        created.append(name)
        return pg.create_service_database(name, service, template=f"tpl_{service}")

    yield make
    for name in created:
        pg.drop_database(name)


def rollback_database(service: str) -> str:
    return f"rb_{service}"


@pytest.fixture(scope="session")
def rollback_urls(pg: LocalPostgres) -> dict[str, str]:
    """Per service, the runtime role's URL of the one database the ``rollback_db`` tests share."""
    return {s: pg.create_service_database(rollback_database(s), s, template=f"tpl_{s}") for s in SERVICES}


@pytest.fixture
async def rollback_db(
    pg: LocalPostgres, rollback_urls: dict[str, str]
) -> AsyncIterator[Callable[..., Awaitable[Database]]]:
    """``await rollback_db("filing")`` -> a Database whose every transaction is a savepoint inside
    one outer transaction that is rolled back when the test ends; connected as the service's runtime
    role, or with ``superuser=True`` as the superuser: for tests playing an intruder who does what
    no service may (rewrite the ledger, say)."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(service: str, *, superuser: bool = False) -> Database:
        url = pg.url(rollback_database(service)) if superuser else rollback_urls[service]
        engine_db = Database(url, pool_size=2)
        conn = await engine_db.engine.connect()
        outer = await conn.begin()

        async def cleanup() -> None:
            await outer.rollback()
            await conn.close()
            await engine_db.dispose()

        cleanups.append(cleanup)
        return Database(connection=conn)

    yield make
    for cleanup in cleanups:
        await cleanup()


@pytest.fixture
def namespace(kafka: LocalKafka) -> str:
    name = f"t{uuid.uuid4().hex[:8]}."
    kafka.provision(name)
    return name
