"""The filing service's consumer group: projections it keeps from other services' events
(industry bans for the staff roster; credit grades and published inspection results for the public
directory) and the suspension (暂停收托) a confirmed child-abuse violation puts a filed institution into."""

from __future__ import annotations

from services.filing.directory.consumers import handlers as directory_handlers
from services.filing.staff.consumers import handlers as staff_handlers
from services.filing.suspension.consumers import handlers as suspension_handlers
from shared.app import ConsumerSpec, ServiceContext
from shared.handlers import Handlers
from shared.topics import CREDIT_EVENTS, INSPECTION_EVENTS


def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
    handlers = (
        Handlers().include(staff_handlers(ctx)).include(directory_handlers(ctx)).include(suspension_handlers(ctx))
    )
    return [ConsumerSpec(name="filing", topics=[CREDIT_EVENTS, INSPECTION_EVENTS], handlers=handlers)]
