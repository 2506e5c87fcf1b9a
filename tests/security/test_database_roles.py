"""The services run as a least-privilege PostgreSQL role (``<svc>_app``, shared.migrate.grant_runtime):
whatever their code does, PostgreSQL itself refuses to empty, edit or delete the evidence tables, to
switch their triggers off, to change the schema, or to let one service into another's database; and
the role must prove its password. Real server, the runtime role's own connections."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from devstack.postgres import SERVICES, LocalPostgres
from shared.migrate import APPEND_ONLY_TABLES, default_runtime_role

INSUFFICIENT_PRIVILEGE = "42501"

APPEND_ONLY = [(service, table) for service in SERVICES for table in APPEND_ONLY_TABLES[service]]
TAMPERING = {
    "truncate": "TRUNCATE {table}",
    "update": "UPDATE {table} SET {column} = {column}",
    "delete": "DELETE FROM {table}",
    "disable triggers": "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "drop": "DROP TABLE {table}",
}


def database_of(url: str) -> str:
    return str(make_url(url).database)


async def runtime_connection(rollback_urls: dict[str, str], service: str) -> asyncpg.Connection:
    """A connection as the service's runtime role, to the service's database (rollback_urls: the
    runtime role's URLs of the rollback_db databases)."""
    return await asyncpg.connect(rollback_urls[service])


@pytest.fixture
async def runtime_connections(rollback_urls: dict[str, str]) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    connections = {service: await runtime_connection(rollback_urls, service) for service in SERVICES}
    yield connections
    for connection in connections.values():
        await connection.close()


async def execute_and_roll_back(connection: asyncpg.Connection, *statements: str) -> None:
    """The statements in one transaction, rolled back whatever happens (so a test leaves no trace)."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await transaction.rollback()


async def assert_refused(connection: asyncpg.Connection, statement: str) -> str:
    """The statement fails PostgreSQL's privilege check (not a trigger, not a constraint); the message."""
    with pytest.raises(asyncpg.PostgresError) as refused:
        await execute_and_roll_back(connection, statement)
    assert refused.value.sqlstate == INSUFFICIENT_PRIVILEGE, f"{statement}: {refused.value!r}"
    return str(refused.value)


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
@pytest.mark.parametrize(("service", "table"), APPEND_ONLY)
async def test_the_runtime_role_cannot_tamper_with_append_only_tables(
    runtime_connections: dict[str, asyncpg.Connection], service: str, table: str, tampering: str
) -> None:
    connection = runtime_connections[service]
    column = await connection.fetchval(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = $1 AND is_identity = 'NO' ORDER BY ordinal_position",
        table,
    )
    assert column, f"{service}.{table} exists and the runtime role sees it"
    message = await assert_refused(connection, TAMPERING[tampering].format(table=table, column=column))
    expected = "must be owner" if tampering in ("disable triggers", "drop") else "permission denied"
    assert expected in message


AUDIT_ROW = (
    "INSERT INTO audit_log (subject, roles, districts, method, route, path_params)"
    " VALUES ('role-test', ARRAY['ops'], ARRAY[]::text[], 'POST', '/v1/x', '{}')"
)
# Tables guarded by a trigger as well: a row to insert (row triggers do not fire on an empty table)
# and a column to "update".
TRIGGER_GUARDED = {
    "audit_log": (AUDIT_ROW, "subject"),
    "credit_entry": (
        "INSERT INTO credit_entry (id, subject_kind, subject_id, rule_id, source_key, source_event_id,"
        " source_event_type, effective_from, detail_zh, recorded_at)"
        " VALUES (gen_random_uuid(), 'institution', 'role-test', 'rule', 'key', 'event', 'type', now(), '-', now())",
        "subject_id",
    ),
}


@pytest.mark.parametrize(
    ("service", "table"), [(s, t) for s in SERVICES for t in APPEND_ONLY_TABLES[s] if t in TRIGGER_GUARDED]
)
async def test_even_the_owner_role_is_refused_edits_of_trigger_guarded_tables(
    pg: LocalPostgres, rollback_urls: dict[str, str], service: str, table: str
) -> None:
    """The second line, for whoever holds the privileges (the owner, a migration): the trigger."""
    row, column = TRIGGER_GUARDED[table]
    connection = await asyncpg.connect(pg.owner_url(database_of(rollback_urls[service]), service))
    try:
        for statement in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await execute_and_roll_back(connection, row, statement)
    finally:
        await connection.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_runtime_role_appends_to_and_reads_the_audit_log(
    runtime_connections: dict[str, asyncpg.Connection], service: str
) -> None:
    connection = runtime_connections[service]
    transaction = connection.transaction()
    await transaction.start()
    try:
        written = await connection.fetchval(f"{AUDIT_ROW} RETURNING id")
        assert await connection.fetchval("SELECT subject FROM audit_log WHERE id = $1", written) == "role-test"
    finally:
        await transaction.rollback()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_runtime_role_may_not_empty_change_or_extend_the_schema(
    runtime_connections: dict[str, asyncpg.Connection], service: str
) -> None:
    connection = runtime_connections[service]
    # an ordinary table: rows may change, but TRUNCATE is granted on nothing
    await assert_refused(connection, "TRUNCATE outbox")
    await assert_refused(connection, "ALTER TABLE outbox ADD COLUMN smuggled text")
    await assert_refused(connection, "CREATE TABLE public.smuggled (id int)")
    await assert_refused(connection, f"UPDATE alembic_version_{service} SET version_num = version_num")
    assert await connection.fetchval(f"SELECT count(*) FROM alembic_version_{service}") == 1


@pytest.mark.parametrize("service", SERVICES)
async def test_the_runtime_role_is_no_superuser_and_owns_nothing(
    runtime_connections: dict[str, asyncpg.Connection], service: str
) -> None:
    connection = runtime_connections[service]
    role = await connection.fetchrow(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert role["rolname"] == default_runtime_role(service)
    assert role["rolcanlogin"]
    assert not any(role[a] for a in ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls"))
    owned = await connection.fetchval(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)"
        " + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)"
        " + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)"
        " + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)"
        " + (SELECT count(*) FROM pg_database WHERE datdba = r.oid)"
        # ownership anywhere on the server (every database and the shared catalogs)
        " + (SELECT count(*) FROM pg_shdepend WHERE refobjid = r.oid AND deptype = 'o')"
        " FROM pg_roles r WHERE r.rolname = current_user"
    )
    assert owned == 0
    assert (
        await connection.fetchval(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = current_user"
        )
        == 0
    ), "a member of no role"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_runtime_role_connects_to_its_own_database_only(
    pg: LocalPostgres, rollback_urls: dict[str, str], service: str
) -> None:
    other = next(s for s in SERVICES if s != service)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
        await asyncpg.connect(pg.role_url(database_of(rollback_urls[other]), default_runtime_role(service)))


async def test_service_roles_must_prove_their_password(pg: LocalPostgres, rollback_urls: dict[str, str]) -> None:
    right = rollback_urls["filing"]
    connection = await asyncpg.connect(right)
    await connection.close()
    wrong = right.replace(":dev-only-db-filing_app-password@", ":not-the-password@")
    assert wrong != right
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)
    with pytest.raises(asyncpg.PostgresError):
        await asyncpg.connect(right.replace(":dev-only-db-filing_app-password@", "@"))


async def test_a_superusers_copy_of_a_service_database_serves_the_runtime_role(pg: LocalPostgres) -> None:
    """A copy the superuser owns (tests/faults and the benchmarks make such; so does pg_restore into a
    new database): foreign-key checks run as the tables' owner, which must still reach schema public."""
    name = "roles_superuser_copy"
    pg.drop_database(name)
    pg.create_database(name, template="tpl_filing")
    try:
        connection = await asyncpg.connect(pg.app_url(name, "filing"))
        try:
            with pytest.raises(asyncpg.ForeignKeyViolationError):  # checked, and refused for the right reason
                await connection.execute(
                    "INSERT INTO annual_report_overdue (institution_id, year, due_date, district_code)"
                    " VALUES (gen_random_uuid(), 2025, '2025-06-30', '440106')"
                )
        finally:
            await connection.close()
    finally:
        pg.drop_database(name)
