"""Filing service (登记备案): ``uvicorn --factory services.filing.app:create_app --port 8001``."""

from __future__ import annotations

from fastapi import FastAPI

from services.filing.annual_reports.api import router as annual_reports_router
from services.filing.annual_reports.jobs import jobs as annual_report_jobs
from services.filing.consumers import consumers
from services.filing.directory.api import router as directory_router
from services.filing.institutions.api import router as institutions_router
from services.filing.institutions.jobs import jobs as institution_jobs
from services.filing.settings import FilingSettings
from services.filing.staff.api import router as staff_router
from services.filing.suspension.api import router as suspension_router
from services.filing.work.api import router as work_router
from shared.app import create_service_app
from shared.db import Database
from shared.documents import DEFAULT_MAX_BYTES
from shared.duties import log_disabled
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or FilingSettings()
    log_disabled(settings, "filing")
    return create_service_app(
        settings,
        title="托育机构登记备案服务 (filing)",
        description="Institution filing, staff roster, annual reports and the public directory (托育地图).",
        routers=[
            institutions_router,
            suspension_router,
            staff_router,
            annual_reports_router,
            directory_router,
            work_router,
        ],
        consumers=consumers,
        jobs=[
            *institution_jobs(),
            *annual_report_jobs(settings if isinstance(settings, FilingSettings) else None),
        ],
        database=database,
        # uploads read more than the 1 MiB of a JSON body (still refused before reading beyond it)
        body_limits={("POST", "/v1/documents"): getattr(settings, "document_max_bytes", DEFAULT_MAX_BYTES)},
    )
