"""The roster's projection of industry bans (从业禁止) from the credit service's events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.staff import service
from shared.app import ServiceContext
from shared.consumer import Handler
from shared.events import DecodedEvent
from shared.events.credit import PersonBanLiftedV1, PersonBannedV1


async def _on_person_banned(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, PersonBannedV1)
    await service.apply_person_banned(session, event.data)


async def _on_person_ban_lifted(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, PersonBanLiftedV1)
    await service.apply_person_ban_lifted(session, event.data)


def handlers(ctx: ServiceContext) -> dict[str, Handler]:
    """Event type -> handler, run by the filing service's consumer group. Both are idempotent
    upserts (and the inbox drops redeliveries), so a replay from the beginning rebuilds the list."""
    return {
        PersonBannedV1.event_type: _on_person_banned,
        PersonBanLiftedV1.event_type: _on_person_ban_lifted,
    }
