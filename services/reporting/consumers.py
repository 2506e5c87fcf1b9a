"""The reporting service reads every domain topic into the ledger."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import service
from shared.app import ConsumerSpec, ServiceContext
from shared.consumer import Handler
from shared.events import CATALOGUE, DecodedEvent
from shared.topics import DOMAIN_TOPICS


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    async def append(session: AsyncSession, event: DecodedEvent) -> None:
        await service.append_event(session, ctx.outbox, event.envelope)

    ledgered: dict[str, Handler] = {t: append for t, model in CATALOGUE.items() if model.topic in DOMAIN_TOPICS}
    return [ConsumerSpec(name="reporting", topics=list(DOMAIN_TOPICS), handlers=ledgered)]
