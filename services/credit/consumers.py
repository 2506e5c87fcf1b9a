"""What the credit service takes from other services' events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import service
from shared.app import ConsumerSpec, ServiceContext
from shared.events import DecodedEvent
from shared.events.filing import InstitutionSubmittedV1
from shared.topics import FILING_EVENTS


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    async def on_institution_submitted(session: AsyncSession, event: DecodedEvent) -> None:
        data = event.data
        assert isinstance(data, InstitutionSubmittedV1)
        await service.open_institution_record(
            session,
            ctx.outbox,
            institution_id=str(data.institution_id),
            name=data.name,
            district_code=data.district_code,
            at=event.envelope.time,
            cause_event_id=event.envelope.id,
        )

    return [
        ConsumerSpec(
            name="credit",
            topics=[FILING_EVENTS],
            handlers={InstitutionSubmittedV1.event_type: on_institution_submitted},
        )
    ]
