"""``/v1/work`` of the inspection service (``shared.work``)."""

from __future__ import annotations

from services.inspection.work.queues import QUEUES
from shared.work import work_router

router = work_router("inspection", QUEUES)
