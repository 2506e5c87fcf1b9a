"""Bulk writes for rebuilds: rows sent with PostgreSQL's COPY inside the caller's transaction.

A rebuild computes a read model's rows in memory and writes each table with one COPY (asyncpg
``copy_records_to_table``, binary format) instead of a statement per event: no per-row parsing,
planning or index round trips. The rows go through the session's own asyncpg connection
(``shared.db.driver_connection``), so they commit or roll back with everything else the caller's
transaction wrote; nothing here commits.

Columns left out of ``columns`` take their defaults (identity ids, ``now()`` timestamps). COPY has
no ON CONFLICT: the caller sends each key once (a rebuild starts from empty tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import driver_connection


async def copy_rows(session: AsyncSession, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` (tuples in ``columns`` order, Python values asyncpg encodes: UUID, aware
    datetime, list for an array) into ``table``; returns how many were sent."""
    records = [tuple(r) for r in rows]
    if not records:
        return 0
    connection = await driver_connection(session)
    await connection.copy_records_to_table(table, records=records, columns=list(columns))
    return len(records)


async def nonempty_tables(session: AsyncSession, tables: Sequence[str]) -> list[str]:
    """Those of ``tables`` that hold at least one row (a rebuild's precondition is that none do)."""
    found: list[str] = []
    for table in tables:
        if (await session.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})"))).scalar_one():
            found.append(table)
    return found
