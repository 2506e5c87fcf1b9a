"""SQL of the ledger. Appends happen under the ledger_head row lock (see models.LedgerHead)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.ledger.merkle import Node
from services.reporting.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead, LedgerNode
from shared.db import driver_connection


async def lock_head(session: AsyncSession) -> tuple[int, bytes]:
    """The tree size and peaks, locked until commit: one append at a time, in index order."""
    row = (
        await session.execute(select(LedgerHead.size, LedgerHead.peaks).where(LedgerHead.id == 1).with_for_update())
    ).one()
    return int(row.size), bytes(row.peaks)


async def head(session: AsyncSession) -> tuple[int, bytes]:
    row = (await session.execute(select(LedgerHead.size, LedgerHead.peaks).where(LedgerHead.id == 1))).one()
    return int(row.size), bytes(row.peaks)


async def tree_size(session: AsyncSession) -> int:
    return int((await session.execute(select(LedgerHead.size).where(LedgerHead.id == 1))).scalar_one())


_ENTRY_TABLE: Any = LedgerEntry.__table__
_NODE_TABLE: Any = LedgerNode.__table__
_ENTRY_COLUMNS = (
    "index", "event_id", "event_source", "event_type", "subject", "event_time", "leaf", "leaf_hash", "leaf_version",
    "data", "field_salts",
)  # fmt: skip
_INSERT_ENTRIES = (
    f"INSERT INTO ledger_entry ({', '.join(_ENTRY_COLUMNS)}, recorded_at)"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_ENTRY_COLUMNS) + 2))})"
)
_INSERT_NODES = "INSERT INTO ledger_node (level, index, hash) VALUES ($1, $2, $3)"


async def store_appends(
    session: AsyncSession, entries: list[dict[str, Any]], nodes: list[tuple[Node, bytes]], size: int, peaks: bytes
) -> None:
    """Several appends in three statements (entries, completed subtrees, head). The rows go through
    the session's asyncpg connection as prepared-statement executemany: nothing here needs the unit
    of work, and SQLAlchemy's per-row parameter processing cost more than the inserts."""
    driver = await driver_connection(session) if entries or nodes else None
    if driver is not None and entries:
        columns = (*_ENTRY_COLUMNS, "recorded_at")
        await driver.executemany(_INSERT_ENTRIES, [tuple(e[c] for c in columns) for e in entries])
    if driver is not None and nodes:
        await driver.executemany(_INSERT_NODES, [(lvl, idx, h) for (lvl, idx), h in nodes])
    await session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(size=size, peaks=peaks))


async def copy_appends(session: AsyncSession, entries: list[dict[str, Any]], nodes: list[tuple[Node, bytes]]) -> None:
    """The bulk rebuild's form of ``store_appends`` without the head: entries and completed
    subtrees with COPY (binary, no statement per row), in the session's transaction. Only for rows
    known to be new (the rebuild's own indexes above the head, events the inbox claim found fresh):
    COPY has no ON CONFLICT, a duplicate fails the chunk."""
    driver = await driver_connection(session)
    columns = (*_ENTRY_COLUMNS, "recorded_at")
    if entries:
        records = [tuple(e[c] for c in columns) for e in entries]
        await driver.copy_records_to_table("ledger_entry", records=records, columns=columns)
    if nodes:
        records = [(lvl, idx, h) for (lvl, idx), h in nodes]
        await driver.copy_records_to_table("ledger_node", records=records, columns=("level", "index", "hash"))


async def set_head(session: AsyncSession, size: int, peaks: bytes) -> None:
    await session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(size=size, peaks=peaks))


async def entries_existing(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, id) pairs are in the ledger already."""
    if not keys:
        return set()
    rows = await session.execute(
        select(LedgerEntry.event_source, LedgerEntry.event_id).where(
            tuple_(LedgerEntry.event_source, LedgerEntry.event_id).in_(list(keys))
        )
    )
    return {(str(r[0]), str(r[1])) for r in rows}


async def read_nodes(session: AsyncSession, nodes: Iterable[Node]) -> dict[Node, bytes]:
    wanted = set(nodes)
    leaves = [idx for lvl, idx in wanted if lvl == 0]
    inner = [(lvl, idx) for lvl, idx in wanted if lvl > 0]
    found: dict[Node, bytes] = {}
    if leaves:
        rows = await session.execute(
            select(LedgerEntry.index.label("idx"), LedgerEntry.leaf_hash).where(LedgerEntry.index.in_(leaves))
        )
        found.update({(0, int(r.idx)): bytes(r.leaf_hash) for r in rows})
    if inner:
        rows = await session.execute(
            select(LedgerNode.level, LedgerNode.index.label("idx"), LedgerNode.hash).where(
                tuple_(LedgerNode.level, LedgerNode.index).in_(inner)
            )
        )
        found.update({(int(r.level), int(r.idx)): bytes(r.hash) for r in rows})
    return found


_PAGE_COLUMNS = (
    LedgerEntry.index.label("idx"),
    LedgerEntry.event_id,
    LedgerEntry.event_source,
    LedgerEntry.event_type,
    LedgerEntry.subject,
    LedgerEntry.event_time,
    LedgerEntry.recorded_at,
    LedgerEntry.leaf,
    LedgerEntry.leaf_hash,
    LedgerEntry.leaf_version,
    LedgerEntry.data,
    LedgerEntry.field_salts,
)


async def entries_page(
    session: AsyncSession, *, after: int, below: int, limit: int, types: Sequence[str] | None
) -> Sequence[Any]:
    """Entries with after < index < below in index order, optionally only of ``types`` (keyset page)."""
    conditions = [LedgerEntry.index > after, LedgerEntry.index < below]
    if types is not None:
        conditions.append(LedgerEntry.event_type.in_(list(types)))
    statement = select(*_PAGE_COLUMNS).where(and_(*conditions)).order_by(LedgerEntry.index).limit(limit)
    return (await session.execute(statement)).all()


async def entry(session: AsyncSession, index: int) -> Any:
    return (await session.execute(select(*_PAGE_COLUMNS).where(LedgerEntry.index == index))).first()


async def leaves_page(session: AsyncSession, *, after: int, limit: int) -> Sequence[Any]:
    statement = (
        select(
            LedgerEntry.index.label("idx"),
            LedgerEntry.leaf,
            LedgerEntry.leaf_hash,
            LedgerEntry.leaf_version,
            LedgerEntry.data,
            LedgerEntry.field_salts,
        )
        .where(LedgerEntry.index > after)
        .order_by(LedgerEntry.index)
        .limit(limit)
    )
    return (await session.execute(statement)).all()


async def latest_checkpoint(session: AsyncSession) -> LedgerCheckpoint | None:
    statement = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1)
    return (await session.execute(statement)).scalars().first()


async def checkpoints(session: AsyncSession) -> Sequence[LedgerCheckpoint]:
    return (await session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size))).scalars().all()


async def checkpoint_at(session: AsyncSession, size: int) -> LedgerCheckpoint | None:
    return await session.get(LedgerCheckpoint, size)


async def checkpoints_page(session: AsyncSession, *, after: int, limit: int) -> Sequence[LedgerCheckpoint]:
    statement = (
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.tree_size > after)
        .order_by(LedgerCheckpoint.tree_size)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def add_checkpoint(session: AsyncSession, checkpoint: LedgerCheckpoint) -> bool:
    """False if a checkpoint of that size exists already (another replica signed it first)."""
    result = await session.execute(
        pg_insert(LedgerCheckpoint)
        .values(
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash,
            note=checkpoint.note,
            key_name=checkpoint.key_name,
            key_id=checkpoint.key_id,
        )
        .on_conflict_do_nothing()
        .returning(LedgerCheckpoint.tree_size)
    )
    return result.first() is not None
