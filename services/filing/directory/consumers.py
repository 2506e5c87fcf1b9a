"""What the public directory takes from other services' events: the current credit grade, the
serious-dishonesty listing (普惠 suspended while listed), the latest published inspection result and
the latest on-site quality assessment of each institution (newest wins, so late events are
harmless)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.directory import service
from shared.app import ServiceContext
from shared.events import DecodedEvent
from shared.events.credit import CreditListEnteredV1, CreditListLeftV1, InstitutionGradedV1
from shared.events.inspection import InspectionResultPublishedV1, QualityAssessedV1
from shared.handlers import Handlers

registry = Handlers()


@registry.on(QualityAssessedV1)
async def on_quality_assessed(session: AsyncSession, data: QualityAssessedV1, event: DecodedEvent) -> None:
    await service.record_quality(session, data, event_id=event.envelope.id)


@registry.on(InstitutionGradedV1)
async def on_institution_graded(session: AsyncSession, data: InstitutionGradedV1, event: DecodedEvent) -> None:
    await service.record_grade(session, data, event_id=event.envelope.id)


@registry.on(CreditListEnteredV1)
async def on_list_entered(session: AsyncSession, data: CreditListEnteredV1, event: DecodedEvent) -> None:
    await service.record_listing(session, data, event_id=event.envelope.id)


@registry.on(CreditListLeftV1)
async def on_list_left(session: AsyncSession, data: CreditListLeftV1, event: DecodedEvent) -> None:
    await service.record_listing(session, data, event_id=event.envelope.id)


@registry.on(InspectionResultPublishedV1)
async def on_inspection_result_published(
    session: AsyncSession, data: InspectionResultPublishedV1, event: DecodedEvent
) -> None:
    await service.record_inspection_result(session, data, event_id=event.envelope.id)


def handlers(ctx: ServiceContext) -> Handlers:
    """Event type -> handler, run by the filing service's consumer group."""
    return registry
