"""The target pool's projection of filing and credit events (consumer group "inspection")."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool import service
from shared.consumer import Handler
from shared.events import DecodedEvent
from shared.events.credit import InstitutionGradedV1
from shared.events.filing import (
    InstitutionChangedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    StaffHiredV1,
    StaffLeftV1,
)


async def _filed(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, InstitutionFiledV1)
    await service.apply_filed(session, event.data)


async def _changed(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, InstitutionChangedV1)
    await service.apply_changed(session, event.data)


async def _deregistered(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, InstitutionDeregisteredV1)
    await service.apply_deregistered(session, event.data)


async def _graded(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, InstitutionGradedV1)
    await service.apply_graded(session, event.data, event_id=event.envelope.id)


async def _staff_hired(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, StaffHiredV1)
    await service.apply_staff_hired(session, event.data)


async def _staff_left(session: AsyncSession, event: DecodedEvent) -> None:
    assert isinstance(event.data, StaffLeftV1)
    await service.apply_staff_left(session, event.data)


def handlers() -> dict[str, Handler]:
    """Every handler is an order-tolerant upsert (newest timestamp wins), so a replay rebuilds the pool."""
    return {
        InstitutionFiledV1.event_type: _filed,
        InstitutionChangedV1.event_type: _changed,
        InstitutionDeregisteredV1.event_type: _deregistered,
        InstitutionGradedV1.event_type: _graded,
        StaffHiredV1.event_type: _staff_hired,
        StaffLeftV1.event_type: _staff_left,
    }
