"""Projection writes shared by the services' consumers.

``upsert_newest``: one row per key holding the newest version of a fact (a credit grade, a published
inspection result) by the time the fact carries. Events arrive at least once and in no guaranteed
order across partitions and topics, so a version computed earlier but delivered later must not
replace a newer one: the row is replaced only when the incoming version is strictly newer. The same
event again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

# Built statements by (table, columns, key, version column, touched column): a consumer writes the
# same few shapes for every event, and building an insert … on conflict costs more than running it.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


async def upsert_newest(
    session: AsyncSession,
    model: Any,
    values: Mapping[str, Any],
    *,
    key: Sequence[str] = ("institution_id",),
    newest_by: str,
    touched_at: str | None = None,
) -> bool:
    """Insert ``values`` as the row of its ``key``, or replace the stored row's other columns with
    them if ``values[newest_by]`` is later than the stored one (``touched_at``, if named, is set to
    now() on every write). True if ``values`` were stored."""
    table = model.__table__
    shape = (table, tuple(values), tuple(key), newest_by, touched_at)
    statement = _STATEMENTS.get(shape)
    if statement is None:
        insert = pg_insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in values})
        replaced: dict[str, Any] = {name: insert.excluded[name] for name in values if name not in key}
        if touched_at is not None:
            replaced[touched_at] = func.now()
        statement = insert.on_conflict_do_update(
            index_elements=list(key),
            set_=replaced,
            where=insert.excluded[newest_by] > table.c[newest_by],
        ).returning(*(table.c[name] for name in key))
        _STATEMENTS[shape] = statement
    return (await session.execute(statement, dict(values))).first() is not None
