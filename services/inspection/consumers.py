"""The inspection service's consumer group "inspection": the target pool from filing and credit
events, and unlicensed-operator cases closing as filed when the filing service files the operator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool.consumers import handlers as pool_handlers
from services.inspection.unlicensed import service as unlicensed_service
from shared.app import ConsumerSpec, ServiceContext
from shared.consumer import Handler
from shared.events import DecodedEvent
from shared.events.filing import InstitutionFiledV1
from shared.topics import CREDIT_EVENTS, FILING_EVENTS


def handlers(ctx: ServiceContext) -> dict[str, Handler]:
    table = pool_handlers()
    pool_filed = table[InstitutionFiledV1.event_type]

    async def on_filed(session: AsyncSession, event: DecodedEvent) -> None:
        # The pool first: a case whose identity is recorded later finds the filing there.
        await pool_filed(session, event)
        assert isinstance(event.data, InstitutionFiledV1)
        await unlicensed_service.on_institution_filed(session, ctx.outbox, event.data)

    table[InstitutionFiledV1.event_type] = on_filed
    return table


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    return [ConsumerSpec(name="inspection", topics=[FILING_EVENTS, CREDIT_EVENTS], handlers=handlers(ctx))]
