"""What the public directory takes from other services' events: the current credit grade and the
latest published inspection result and the latest on-site quality assessment of each institution
(newest wins, so late events are harmless)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.directory import service
from shared.app import ServiceContext
from shared.consumer import Handler
from shared.events import DecodedEvent
from shared.events.credit import InstitutionGradedV1
from shared.events.inspection import InspectionResultPublishedV1, QualityAssessedV1


def handlers(ctx: ServiceContext) -> dict[str, Handler]:
    """Event type -> handler, run by the filing service's consumer group."""

    async def on_institution_graded(session: AsyncSession, event: DecodedEvent) -> None:
        data = event.data
        assert isinstance(data, InstitutionGradedV1)
        await service.record_grade(session, data, event_id=event.envelope.id)

    async def on_inspection_result_published(session: AsyncSession, event: DecodedEvent) -> None:
        data = event.data
        assert isinstance(data, InspectionResultPublishedV1)
        await service.record_inspection_result(session, data, event_id=event.envelope.id)

    async def on_quality_assessed(session: AsyncSession, event: DecodedEvent) -> None:
        data = event.data
        assert isinstance(data, QualityAssessedV1)
        await service.record_quality(session, data, event_id=event.envelope.id)

    return {
        QualityAssessedV1.event_type: on_quality_assessed,
        InstitutionGradedV1.event_type: on_institution_graded,
        InspectionResultPublishedV1.event_type: on_inspection_result_published,
    }
