"""``/v1/work`` of the filing service (``shared.work``)."""

from __future__ import annotations

from services.filing.work.queues import QUEUES
from shared.work import work_router

router = work_router("filing", QUEUES)
