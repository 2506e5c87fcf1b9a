"""The roster's projection of industry bans (从业禁止) from the credit service's events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.staff import service
from shared.app import ServiceContext
from shared.events import DecodedEvent
from shared.events.credit import PersonBanLiftedV1, PersonBannedV1
from shared.handlers import Handlers

# Run by the filing service's consumer group. Both are idempotent upserts (and the inbox drops
# redeliveries), so a replay from the beginning rebuilds the list.
registry = Handlers()


@registry.on(PersonBannedV1)
async def _on_person_banned(session: AsyncSession, data: PersonBannedV1, _: DecodedEvent) -> None:
    await service.apply_person_banned(session, data)


@registry.on(PersonBanLiftedV1)
async def _on_person_ban_lifted(session: AsyncSession, data: PersonBanLiftedV1, _: DecodedEvent) -> None:
    await service.apply_person_ban_lifted(session, data)


def handlers(ctx: ServiceContext) -> Handlers:
    """Event type -> handler, run by the filing service's consumer group."""
    return registry
