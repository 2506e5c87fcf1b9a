"""Every service's Alembic history upgrades a blank database, downgrades to nothing, and upgrades
again; and each service keeps its own version table."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from devstack.postgres import SERVICES, LocalPostgres
from shared.db import Database
from shared.migrate import downgrade, upgrade


async def tables(url: str) -> set[str]:
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            rows = await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return {r[0] for r in rows}
    finally:
        await db.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_upgrade_downgrade_upgrade(pg: LocalPostgres, service: str) -> None:
    name = f"mig_{service}"
    pg.drop_database(name)
    pg.create_database(name, service=service)
    url = pg.owner_url(name, service)  # the whole history runs as the owner role, as in production
    try:
        await asyncio.to_thread(upgrade, service, url)
        created = await tables(url)
        assert {"outbox", "inbox", f"alembic_version_{service}"} <= created
        assert "alembic_version" not in created, "each service has its own version table"

        await asyncio.to_thread(downgrade, service, url, "base")
        assert await tables(url) == {f"alembic_version_{service}"}

        await asyncio.to_thread(upgrade, service, url)
        assert await tables(url) == created
    finally:
        pg.drop_database(name)
