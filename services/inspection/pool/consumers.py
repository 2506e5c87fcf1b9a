"""The target pool's projection of filing and credit events (consumer group "inspection")."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool import service
from shared.events import DecodedEvent
from shared.events.credit import InstitutionGradedV1
from shared.events.filing import (
    InstitutionChangedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    StaffHiredV1,
    StaffLeftV1,
)
from shared.handlers import Handlers

# Every handler is an order-tolerant upsert (newest timestamp wins), so a replay rebuilds the pool.
registry = Handlers()


@registry.on(InstitutionFiledV1)
async def _filed(session: AsyncSession, data: InstitutionFiledV1, _: DecodedEvent) -> None:
    await service.apply_filed(session, data)


@registry.on(InstitutionChangedV1)
async def _changed(session: AsyncSession, data: InstitutionChangedV1, _: DecodedEvent) -> None:
    await service.apply_changed(session, data)


@registry.on(InstitutionDeregisteredV1)
async def _deregistered(session: AsyncSession, data: InstitutionDeregisteredV1, _: DecodedEvent) -> None:
    await service.apply_deregistered(session, data)


@registry.on(InstitutionGradedV1)
async def _graded(session: AsyncSession, data: InstitutionGradedV1, event: DecodedEvent) -> None:
    await service.apply_graded(session, data, event_id=event.envelope.id)


@registry.on(StaffHiredV1)
async def _staff_hired(session: AsyncSession, data: StaffHiredV1, _: DecodedEvent) -> None:
    await service.apply_staff_hired(session, data)


@registry.on(StaffLeftV1)
async def _staff_left(session: AsyncSession, data: StaffLeftV1, _: DecodedEvent) -> None:
    await service.apply_staff_left(session, data)
