"""``/v1/work`` of the credit service (``shared.work``)."""

from __future__ import annotations

from services.credit.work.queues import QUEUES
from shared.work import work_router

router = work_router("credit", QUEUES)
