from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Table, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers, instrumentation

from services.filing.models import DocumentBlob, Institution, InstitutionChange
from shared.db import driver_connection

_institution: Table = Institution.__table__  # type: ignore[assignment]
# Statements of the submission path, built once (SQLAlchemy then also caches their compiled form).
_digests = bindparam("digests", type_=ARRAY(Text))
_EXISTING_DOCUMENTS = select(DocumentBlob.sha256).where(DocumentBlob.sha256 == func.any(_digests))
# every column but the two the database fills in
_INSERTED_COLUMNS = [c for c in _institution.columns if c.key not in {"created_at", "updated_at"}]
# A new institution's row, in one statement that is also both checks the insert depends on: it
# inserts nothing (and returns no row) unless every referenced document exists, and nothing if the
# unified social credit code is filed already, also by a concurrent transaction that commits first
# (ON CONFLICT waits for it). No look-ups before it, no savepoint around it.
_INSERT_IF_DOCUMENTS_EXIST_AND_USCC_NEW = (
    pg_insert(_institution)
    .from_select(
        [c.key for c in _INSERTED_COLUMNS],
        select(*(bindparam(c.key, type_=c.type) for c in _INSERTED_COLUMNS)).where(
            select(func.count()).where(DocumentBlob.sha256 == func.any(_digests)).scalar_subquery()
            == bindparam("digest_count")
        ),
    )
    .on_conflict_do_nothing(index_elements=[_institution.c.uscc])
    .returning(_institution.c.id)
)
# ... executed on the session's asyncpg connection (shared.db.driver_connection) as the SQL it
# compiles to, compiled here once: asyncpg prepares it once per connection, and a request pays for
# neither SQLAlchemy's statement cache look-up nor its per-parameter processing. JSONB parameters
# are JSON text (the codec SQLAlchemy's dialect installs on its connections).
_INSERT_NEW_COMPILED = _INSERT_IF_DOCUMENTS_EXIST_AND_USCC_NEW.compile(dialect=asyncpg_dialect())
_INSERT_NEW_SQL = _INSERT_NEW_COMPILED.string
_INSERT_NEW_PARAMETERS: tuple[str, ...] = tuple(_INSERT_NEW_COMPILED.positiontup or ())
_JSONB_PARAMETERS = frozenset(c.key for c in _INSERTED_COLUMNS if isinstance(c.type, JSONB))
_INSTITUTION_CLASS = instrumentation.manager_of_class(Institution)


async def get(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    return await session.get(Institution, institution_id)


async def get_for_update(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    # The row lock serialises decisions and changes of one institution, which also keeps its
    # outbox rows in commit order.
    return (
        await session.execute(select(Institution).where(Institution.id == institution_id).with_for_update())
    ).scalar_one_or_none()


async def insert_new(session: AsyncSession, values: Mapping[str, Any]) -> Institution | None:
    """Insert a new institution's row (``values``: every column but ``created_at``/``updated_at``)
    if all its documents exist and its code is not filed yet, and return it as an ``Institution``;
    None if not (nothing written: ``existing_documents`` then tells which check failed).

    The returned object is transient, outside the session (the row was written by this Core
    statement; the object is read, for the event and the answer, and never flushed); the database's
    defaults (``created_at``, ``updated_at``) are not read back.
    """
    digests = sorted(set(values["documents"].values()))
    params = {**values, "digests": digests, "digest_count": len(digests)}
    for key in _JSONB_PARAMETERS:
        params[key] = orjson.dumps(params[key]).decode()
    driver = await driver_connection(session)
    if await driver.fetchrow(_INSERT_NEW_SQL, *(params[key] for key in _INSERT_NEW_PARAMETERS)) is None:
        return None
    # A transient instance holding the values as loaded: the same object ``Institution(**values)``
    # gives for reading (unset columns read None), without the constructor's attribute events,
    # which cost twenty times as much for this wide row.
    configure_mappers()  # what the constructor would do first (at once when done already)
    institution = _INSTITUTION_CLASS.new_instance()
    institution.__dict__.update(values)
    return institution


async def pending_change(session: AsyncSession, institution_id: uuid.UUID) -> InstitutionChange | None:
    return (
        await session.execute(
            select(InstitutionChange).where(
                InstitutionChange.institution_id == institution_id, InstitutionChange.status == "pending"
            )
        )
    ).scalar_one_or_none()


async def existing_documents(session: AsyncSession, digests: list[str]) -> set[str]:
    if not digests:
        return set()
    rows = await session.execute(_EXISTING_DOCUMENTS, {"digests": digests})
    return {r[0] for r in rows}


async def store_document(
    session: AsyncSession, *, sha256: str, media_type: str, content: bytes, uploaded_by: str
) -> None:
    await session.execute(
        pg_insert(DocumentBlob)
        .values(sha256=sha256, media_type=media_type, size_bytes=len(content), content=content, uploaded_by=uploaded_by)
        .on_conflict_do_nothing()
    )


async def get_document(session: AsyncSession, sha256: str) -> DocumentBlob | None:
    return await session.get(DocumentBlob, sha256)


async def count_overdue(session: AsyncSession, today: date) -> int:
    initial = (
        await session.execute(
            select(func.count()).where(Institution.status == "submitted", Institution.decision_due < today)
        )
    ).scalar_one()
    changes = (
        await session.execute(
            select(func.count()).where(InstitutionChange.status == "pending", InstitutionChange.decision_due < today)
        )
    ).scalar_one()
    return int(initial) + int(changes)


async def list_institutions(
    session: AsyncSession, *, districts: Sequence[str] | None, status: str | None, offset: int, limit: int
) -> tuple[list[Institution], int]:
    query = select(Institution)
    if districts is not None:
        query = query.where(Institution.district_code.in_(list(districts)))
    if status is not None:
        query = query.where(Institution.status == status)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(
            query.order_by(Institution.decision_due.asc().nulls_last(), Institution.submitted_at, Institution.id)
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return list(rows), int(total)
