"""The inspection service's consumer group "inspection": the target pool from filing and credit events."""

from __future__ import annotations

from services.inspection.pool.consumers import handlers as pool_handlers
from shared.app import ConsumerSpec, ServiceContext
from shared.topics import CREDIT_EVENTS, FILING_EVENTS


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    return [ConsumerSpec(name="inspection", topics=[FILING_EVENTS, CREDIT_EVENTS], handlers=pool_handlers())]
