"""Alembic, once for all services. Each service has its own history (``services/<svc>/migrations``)
and its own version table (``alembic_version_<svc>``), so four schemas never share bookkeeping.

Two PostgreSQL roles per service database: ``<svc>_owner`` owns the schema and runs the migrations;
``<svc>_app``, the role the service runs as, owns nothing and holds only the privileges granted by
``grant_runtime``, applied after every migration. So the code that serves requests cannot change
the schema, empty a table, disable a trigger, or rewrite an append-only table: PostgreSQL's own
privilege checks refuse it, whatever the code does.

``python -m shared.migrate [services...]`` migrates (production's one-shot migrate step): it reads
``<SVC>_DATABASE_URL``, the owner role's URL, and ``<SVC>_DATABASE_RUNTIME_ROLE`` (default ``<svc>_app``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import MetaData, pool, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import async_url

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
SERVICES = ("filing", "inspection", "credit", "reporting")

# Tables the runtime role may only read and append to: what they hold is evidence, so no request,
# consumer or job may edit, delete or empty rows of them. Declared here only; grant_runtime applies
# it and tests/security/test_database_roles.py proves PostgreSQL refuses the rest.
APPEND_ONLY_TABLES: dict[str, tuple[str, ...]] = {
    "filing": ("audit_log",),
    "inspection": ("audit_log",),
    "credit": ("audit_log", "credit_entry"),
    # entries (leaves), completed subtree hashes, signed checkpoints and their witnesses'
    # cosignatures: written once, never changed
    "reporting": ("audit_log", "ledger_entry", "ledger_node", "ledger_checkpoint", "ledger_cosignature"),
}
# No runtime code empties a table (TRUNCATE): the reporting rebuild replays into a freshly migrated,
# empty database, so the runtime role is granted TRUNCATE on nothing.


def default_owner_role(service: str) -> str:
    return f"{service}_owner"


def default_runtime_role(service: str) -> str:
    return f"{service}_app"


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["sqlalchemy.url"] = url
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str, revision: str = "head", *, runtime_role: str | None = None) -> None:
    """Migrate as the role of ``url`` (the owner), then grant the runtime role (default ``<svc>_app``)
    its privileges. Blocking; call from a thread when an event loop is running (env.py runs its own loop)."""
    command.upgrade(alembic_config(service, url), revision)
    grant_runtime(service, url, runtime_role or default_runtime_role(service))


def downgrade(service: str, url: str, revision: str, *, runtime_role: str | None = None) -> None:
    command.downgrade(alembic_config(service, url), revision)
    grant_runtime(service, url, runtime_role or default_runtime_role(service))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def database_grants(database: str, runtime_role: str) -> list[str]:
    """Who may connect: the owner (implicitly) and the runtime role, nobody else. Kept apart from
    ``runtime_grants`` because a database copied from a template does not copy these (they live in
    the cluster-wide pg_database), while everything inside the database is copied."""
    db, role = quote_identifier(database), quote_identifier(runtime_role)
    return [f"REVOKE ALL ON DATABASE {db} FROM PUBLIC", f"GRANT CONNECT ON DATABASE {db} TO {role}"]


def runtime_grants(service: str, database: str, runtime_role: str, tables: Iterable[str]) -> list[str]:
    """The runtime role's privileges, from nothing: everything is revoked first, so a table that
    became append-only loses UPDATE and DELETE at the next migration. ``tables``: those that exist
    now (a downgraded schema may lack some append-only ones)."""
    role = quote_identifier(runtime_role)
    existing = set(tables)
    statements = [
        *database_grants(database, runtime_role),
        # PostgreSQL 15+ no longer lets PUBLIC create in schema public; said here in case of an older
        # server or a changed default. USAGE stays with PUBLIC (it gives nothing without privileges on
        # the objects): the owner role needs it where it does not own the database (a copy made by a
        # superuser, a restored dump), for foreign-key checks run as the tables' owner.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {role}",
        # No sequence privileges: identity columns draw their values without them, and nothing
        # calls nextval() itself.
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    ]
    # The migrations' bookkeeping is the owner's: the service may read which revision it runs on.
    if version_table(service) in existing:
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON {quote_identifier(version_table(service))} FROM {role}")
    for table in APPEND_ONLY_TABLES[service]:
        if table in existing:
            statements.append(f"REVOKE UPDATE, DELETE ON {quote_identifier(table)} FROM {role}")
    return statements


def grant_runtime(service: str, owner_url: str, runtime_role: str) -> None:
    """Apply ``runtime_grants`` as the owner (or a superuser), in one transaction. Refuses a runtime
    role that is missing, a superuser, the migrating role itself, or the owner of anything here:
    privileges mean nothing to such a role."""
    asyncio.run(_grant_runtime(service, owner_url, runtime_role))


async def _grant_runtime(service: str, owner_url: str, runtime_role: str) -> None:
    engine = create_async_engine(async_url(owner_url), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            role = (
                await connection.execute(
                    text(
                        "SELECT r.rolsuper, r.rolname = current_user AS is_me,"
                        " (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owned"
                        " FROM pg_roles r WHERE r.rolname = :role"
                    ),
                    {"role": runtime_role},
                )
            ).first()
            if role is None:
                raise RuntimeError(
                    f"runtime role {runtime_role!r} does not exist: create it before migrating {service}"
                )
            if role.rolsuper or role.is_me or role.owned:
                raise RuntimeError(
                    f"runtime role {runtime_role!r} must be a role apart from the migrating one, "
                    "neither superuser nor owner of any table"
                )
            database = (await connection.execute(text("SELECT current_database()"))).scalar_one()
            tables = (
                await connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            ).scalars()
            for statement in runtime_grants(service, database, runtime_role, list(tables)):
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.migrate",
        description="Migrate each service's database as its owner role (<SVC>_DATABASE_URL), then grant its "
        "runtime role (<SVC>_DATABASE_RUNTIME_ROLE, default <svc>_app) what the service needs.",
    )
    parser.add_argument("services", nargs="*", default=list(SERVICES), help=f"default: all of {', '.join(SERVICES)}")
    parser.add_argument("--revision", default="head")
    parser.add_argument("--downgrade", action="store_true", help="downgrade to --revision instead")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown services: {', '.join(unknown)}")
    for service in args.services:
        prefix = service.upper()
        url = os.environ.get(f"{prefix}_DATABASE_URL")
        if not url:
            raise SystemExit(f"{prefix}_DATABASE_URL (the owner role's URL) is not set")
        runtime_role = os.environ.get(f"{prefix}_DATABASE_RUNTIME_ROLE") or default_runtime_role(service)
        if args.downgrade:
            downgrade(service, url, args.revision, runtime_role=runtime_role)
        else:
            upgrade(service, url, args.revision, runtime_role=runtime_role)
        sys.stdout.write(f"{service}: migrated to {args.revision}, privileges granted to {runtime_role}\n")


def run_env(target_metadata: MetaData | list[MetaData], service: str) -> None:
    """The body of every service's ``migrations/env.py``."""
    config = context.config
    url = config.attributes.get("sqlalchemy.url") or os.environ.get(f"{service.upper()}_DATABASE_URL")
    if not url:
        raise RuntimeError(f"set {service.upper()}_DATABASE_URL or pass a URL")

    def configure(connection: Connection | None = None) -> None:
        context.configure(
            connection=connection,
            url=None if connection is not None else async_url(url),
            target_metadata=target_metadata,
            version_table=version_table(service),
            compare_type=True,
            transaction_per_migration=True,
        )

    if context.is_offline_mode():
        configure()
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())


def create_messaging_tables(op: Operations) -> None:
    """Outbox and inbox DDL, shared by every service's first migration."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("message_key", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_source", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_source", "event_id", name="pk_inbox"),
    )


def create_audit_table(op: Operations, service: str) -> None:
    """The append-only audit trail (shared.audit), with a trigger refusing UPDATE and DELETE."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("districts", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("path_params", postgresql.JSONB, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "id"])
    function = f"{service}_audit_log_append_only"
    op.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only';
        END;
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )


def drop_audit_table(op: Operations, service: str) -> None:
    op.execute("DROP TRIGGER trg_audit_log_append_only ON audit_log")
    op.execute(f"DROP FUNCTION {service}_audit_log_append_only()")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.drop_table("audit_log")


def drop_messaging_tables(op: Operations) -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")


if __name__ == "__main__":
    main()
