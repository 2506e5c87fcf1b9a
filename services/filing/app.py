"""Filing service (登记备案): ``uvicorn --factory services.filing.app:create_app --port 8001``."""

from __future__ import annotations

from fastapi import FastAPI

from services.filing.api import router
from services.filing.settings import FilingSettings
from shared.app import create_service_app
from shared.db import Database
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    from devstack.postgres import resolve_database_url

    return create_service_app(
        settings or FilingSettings(),
        title="托育机构登记备案服务 (filing)",
        description="Institution filing, staff roster, annual reports and the public directory.",
        routers=[router],
        database=database,
        resolve_database_url=resolve_database_url,
    )
