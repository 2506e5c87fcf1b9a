"""Retention of the outbox: a published row has done its work (the topic holds the event, kept
forever), so rows published longer ago than ``outbox_retention_seconds`` are deleted by a periodic
job of every service, in batches of short transactions, oldest first. Unpublished rows are never
touched, whatever their age. The inbox is not pruned (docs/operations.md, "Retention"): its ids
must outlive the records that could be delivered again, and the topics keep them forever."""

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
