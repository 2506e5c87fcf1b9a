"""Reporting service (共享台账): ``uvicorn --factory services.reporting.app:create_app --port 8004``."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.consumers import consumers
from services.reporting.ledger.api import router, well_known_router
from services.reporting.ledger.jobs import jobs
from services.reporting.settings import ReportingSettings
from services.reporting.stats.api import router as stats_router
from shared.app import create_service_app
from shared.db import Database
from shared.grants import load_grants
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    resolved = settings if isinstance(settings, ReportingSettings) else ReportingSettings()
    load_grants(resolved.grants_file)  # a broken grants file stops the start, not a request
    return create_service_app(
        resolved,
        title="信息共享台账服务 (reporting)",
        description="Tamper-evident shared ledger for agencies, and statistics against the plan's targets.",
        routers=[router, well_known_router, stats_router],
        consumers=consumers,
        jobs=jobs(resolved),
        database=database,
    )
