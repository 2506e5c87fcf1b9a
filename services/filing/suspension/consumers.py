"""What filing takes from inspection for suspensions: a confirmed child-abuse violation (暂停收托)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.suspension import service
from shared.app import ServiceContext
from shared.events import DecodedEvent
from shared.events.inspection import ViolationConfirmedV1
from shared.handlers import Handlers


def handlers(ctx: ServiceContext) -> Handlers:
    """Event type -> handler, run by the filing service's consumer group. The inbox drops a
    redelivered event; a replay of the same confirmation under another id finds its violation
    already suspended once."""
    registry = Handlers()

    @registry.on(ViolationConfirmedV1)
    async def _on_violation_confirmed(session: AsyncSession, data: ViolationConfirmedV1, _: DecodedEvent) -> None:
        await service.suspend_for_child_abuse(session, ctx.outbox, data)

    return registry
