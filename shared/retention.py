"""Retention of the outbox and the inbox, each a periodic job of every service that deletes in
batches of short transactions, oldest first.

Outbox: a published row has done its work (the topic holds the event), so rows published longer
ago than ``outbox_retention_seconds`` are deleted. Unpublished rows are never touched, whatever
their age.

Inbox: an id must outlive every record that could deliver its event again (a replay, a group reset),
so ids are pruned only when ``inbox_retention_seconds`` is set, which the settings refuse unless the
topics' retention is finite and no longer than it (docs/operations.md, "Retention"). The age is
counted from ``processed_at``: the record was appended before it was processed, so an id older than
the topics' retention names a record the topics no longer keep."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from shared.app import ServiceContext

log = logging.getLogger(__name__)

_PRUNE = text(
    "DELETE FROM outbox WHERE id IN ("
    " SELECT id FROM outbox"
    " WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => :age)"
    " ORDER BY id LIMIT :batch)"
    " RETURNING id"
)


async def prune_outbox(ctx: ServiceContext, *, batch: int = 1000) -> int:
    """Delete published outbox rows older than the setting; returns how many."""
    age = float(ctx.settings.outbox_retention_seconds)
    pruned = 0
    while True:
        async with ctx.db.transaction() as session:
            deleted = len((await session.execute(_PRUNE, {"age": age, "batch": batch})).all())
        pruned += deleted
        if deleted < batch:
            break
    ctx.metrics.outbox_pruned.inc(pruned)
    if pruned:
        log.info("published outbox rows pruned", extra={"count": pruned})
    return pruned


# No index on processed_at (one more index written by every consumed event): the oldest ids lie at
# the start of the heap, so the scan finds a batch early and stops at the LIMIT.
_PRUNE_INBOX = text(
    "DELETE FROM inbox WHERE ctid IN ("
    " SELECT ctid FROM inbox WHERE processed_at < now() - make_interval(secs => :age) LIMIT :batch)"
    " RETURNING event_id"
)


async def prune_inbox(ctx: ServiceContext, *, batch: int = 1000) -> int:
    """Delete inbox ids older than ``inbox_retention_seconds``; returns how many (0 when unset)."""
    if ctx.settings.inbox_retention_seconds is None:
        return 0
    age = float(ctx.settings.inbox_retention_seconds)
    pruned = 0
    while True:
        async with ctx.db.transaction() as session:
            deleted = len((await session.execute(_PRUNE_INBOX, {"age": age, "batch": batch})).all())
        pruned += deleted
        if deleted < batch:
            break
    ctx.metrics.inbox_pruned.inc(pruned)
    if pruned:
        log.info("inbox ids pruned", extra={"count": pruned})
    return pruned
