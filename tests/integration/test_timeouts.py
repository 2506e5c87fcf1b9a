"""A hung database answers in bounded time: 503 ``database_unavailable``, never a request left waiting.

Two hangs, each on the test's own database only (the session's PostgreSQL server keeps serving every
other test): a lock held by a superuser connection (the server cancels the waiting statement after
``db_lock_timeout_ms``), and the service's own backends stopped with SIGSTOP while new connections
are refused (nothing answers: the client-side command timeout ends the wait, and readiness flips)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import asyncpg

from devstack.postgres import LocalPostgres
from services.filing.app import create_app
from shared.reference import districts
from tests.support import running, settings_for, token

OFFICER = token("filing_officer", districts=sorted(districts()))


def _database(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


async def test_a_request_waiting_on_a_lock_answers_503_within_the_lock_timeout(
    pg: LocalPostgres, fresh_db: Callable[[str], str]
) -> None:
    url = fresh_db("filing")
    lock_timeout = 1.0
    settings = settings_for(
        "filing",
        database_url=url,
        run_background_workers=False,
        db_lock_timeout_ms=int(lock_timeout * 1000),
        db_statement_timeout_ms=5_000,
    )
    async with running(create_app(settings)) as client:
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200
        holder = await asyncpg.connect(pg.url(_database(url)))
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute("LOCK TABLE institution IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            response = await client.get("/v1/institutions", headers=OFFICER)
            waited = time.monotonic() - started
            await transaction.rollback()
        finally:
            await holder.close()
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert response.json()["error"]["message"] == "数据库暂时无法响应，请稍后重试"
        # the server cancelled the wait at lock_timeout: bounded by it (plus the request's own work)
        assert lock_timeout <= waited < lock_timeout + 3, waited
        # the lock released, the same service answers again
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200


async def test_a_hung_database_answers_503_within_the_command_timeout_and_readiness_flips(
    pg: LocalPostgres, fresh_db: Callable[[str], str]
) -> None:
    url = fresh_db("filing")
    database = _database(url)
    command_timeout = 2.0
    settings = settings_for(
        "filing",
        database_url=url,
        run_background_workers=False,
        db_pool_size=1,
        db_command_timeout_seconds=command_timeout,
        db_pool_timeout_seconds=2.0,
        db_connect_timeout_seconds=2.0,
    )
    async with running(create_app(settings)) as client:
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200
        # the backends serving this test's database: the service's pooled connections, nothing else
        pids = [
            int(p)
            for p in pg.sql(
                f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid();"
            ).split()
            if p.isdigit()
        ]
        assert pids
        pg.sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false;')
        stopped: list[int] = []
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            started = time.monotonic()
            response = await client.get("/v1/institutions", headers=OFFICER)
            waited = time.monotonic() - started
            ready = await client.get("/readyz")
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            pg.sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true;')
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        # the statement, then the rollback of its transaction, each wait at most the command timeout
        assert waited < 2 * command_timeout + 2, waited
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable")
        # the database back, the service recovers by itself
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200
        assert (await client.get("/readyz")).json()["checks"]["database"] == "ok"


async def test_a_database_closed_to_connections_answers_503_not_500(
    pg: LocalPostgres, fresh_db: Callable[[str], str]
) -> None:
    """A database refusing new connections (SQLSTATE 55000 at connect, e.g. during maintenance) is
    unavailable, not a program error: 503 ``database_unavailable``, and the service recovers."""
    url = fresh_db("filing")
    name = _database(url)
    settings = settings_for("filing", database_url=url, run_background_workers=False)
    async with running(create_app(settings)) as client:
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200
        admin = await asyncpg.connect(pg.url("postgres"))
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            # the first request may find its pooled connection gone; the next ones must connect anew
            responses = [await client.get("/v1/institutions", headers=OFFICER) for _ in range(3)]
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        for response in responses:
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
        assert (await client.get("/v1/institutions", headers=OFFICER)).status_code == 200
