"""The reporting service reads every domain topic into the ledger and the statistics projections."""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.ledger import service
from services.reporting.settings import ReportingSettings
from services.reporting.stats.projections import projections
from shared.app import ConsumerSpec, ServiceContext
from shared.batch import BatchCollector
from shared.events import CATALOGUE, CloudEvent, DecodedEvent, EventData
from shared.grants import load_grants
from shared.handlers import Handlers
from shared.topics import DOMAIN_TOPICS

CONSUMER = "reporting"


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    settings = cast(ReportingSettings, ctx.settings)
    shared_fields = load_grants(settings.grants_file).common()
    leaf_format = settings.leaf_format()

    async def append_all(session: AsyncSession, envelopes: list[CloudEvent]) -> None:
        await service.append_events(
            session, ctx.outbox, envelopes, shared_fields=shared_fields, leaf_format=leaf_format
        )

    # The ledger entries of a consumed batch are appended together at its end, in the order the
    # events were consumed (one head lock, one insert), which is the order appending them one by one
    # would give.
    ledger = BatchCollector[CloudEvent]("reporting.ledger", append_all)
    registry = Handlers()

    @registry.on(*(model for model in CATALOGUE.values() if model.topic in DOMAIN_TOPICS))
    async def append(session: AsyncSession, _: EventData, event: DecodedEvent) -> None:
        # One transaction (the runner's, with the inbox claim): the entries and the projections
        # (registered after this, so applied after it) commit together.
        await ledger.add(session, event.envelope)

    registry.include(projections)
    return [ConsumerSpec(name=CONSUMER, topics=list(DOMAIN_TOPICS), handlers=registry)]
