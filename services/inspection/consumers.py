"""The inspection service's consumer group "inspection": the target pool from filing and credit
events, and unlicensed-operator cases closing as filed when the filing service files the operator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool.consumers import registry as pool_handlers
from services.inspection.unlicensed import service as unlicensed_service
from shared.app import ConsumerSpec, ServiceContext
from shared.events import DecodedEvent
from shared.events.filing import InstitutionFiledV1
from shared.handlers import Handlers
from shared.topics import CREDIT_EVENTS, FILING_EVENTS


def handlers(ctx: ServiceContext) -> Handlers:
    # The pool first: a case whose identity is recorded later finds the filing there.
    registry = Handlers().include(pool_handlers)

    @registry.on(InstitutionFiledV1)
    async def close_cases_of_filed(session: AsyncSession, data: InstitutionFiledV1, _: DecodedEvent) -> None:
        await unlicensed_service.on_institution_filed(session, ctx.outbox, data)

    return registry


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    return [ConsumerSpec(name="inspection", topics=[FILING_EVENTS, CREDIT_EVENTS], handlers=handlers(ctx))]
