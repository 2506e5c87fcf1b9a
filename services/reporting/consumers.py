"""The reporting service reads every domain topic into the ledger and the statistics projections."""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import service
from services.reporting.settings import ReportingSettings
from services.reporting.stats.projections import project
from shared.app import ConsumerSpec, ServiceContext
from shared.batch import batch_scope
from shared.consumer import Handler
from shared.events import CATALOGUE, DecodedEvent
from shared.grants import load_grants
from shared.topics import DOMAIN_TOPICS

CONSUMER = "reporting"


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    settings = cast(ReportingSettings, ctx.settings)
    shared_fields = load_grants(settings.grants_file).common()
    leaf_format = settings.leaf_format()

    async def append(session: AsyncSession, event: DecodedEvent) -> None:
        # One transaction (the runner's, with the inbox claim): the entries and the projections commit
        # together. The ledger entries of a consumed batch are appended together at its end, in the
        # order the events were consumed (one head lock, one insert), which is the order appending
        # them one by one would give.
        scope = batch_scope(session)
        if scope is None:
            await service.append_event(
                session, ctx.outbox, event.envelope, shared_fields=shared_fields, leaf_format=leaf_format
            )
        else:
            pending = scope.state("reporting.ledger", list)
            pending.append(event.envelope)

            async def append_all() -> None:
                await service.append_events(
                    session, ctx.outbox, pending, shared_fields=shared_fields, leaf_format=leaf_format
                )

            scope.defer("reporting.ledger", append_all)
        await project(session, event)

    ledgered: dict[str, Handler] = {t: append for t, model in CATALOGUE.items() if model.topic in DOMAIN_TOPICS}
    return [ConsumerSpec(name=CONSUMER, topics=list(DOMAIN_TOPICS), handlers=ledgered)]
