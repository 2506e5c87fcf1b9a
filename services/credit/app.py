"""Credit service (诚信档案): ``uvicorn --factory services.credit.app:create_app --port 8003``."""

from __future__ import annotations

from fastapi import FastAPI

from services.credit.api import router
from services.credit.consumers import consumers
from services.credit.settings import CreditSettings
from shared.app import create_service_app
from shared.db import Database
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    from devstack.postgres import resolve_database_url

    return create_service_app(
        settings or CreditSettings(),
        title="诚信档案服务 (credit)",
        description="Credit records, scores and grades for institutions and staff; dishonesty lists; repair.",
        routers=[router],
        consumers=consumers,
        database=database,
        resolve_database_url=resolve_database_url,
    )
