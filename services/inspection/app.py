"""Inspection service (双随机、一公开): ``uvicorn --factory services.inspection.app:create_app --port 8002``."""

from __future__ import annotations

from fastapi import FastAPI

from services.inspection.consumers import consumers
from services.inspection.jobs import jobs
from services.inspection.plans.api import router as plans_router
from services.inspection.pool.api import router as pool_router
from services.inspection.settings import InspectionSettings
from services.inspection.tasks.api import router as tasks_router
from shared.app import create_service_app
from shared.db import Database
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    from devstack.postgres import resolve_database_url

    settings = settings or InspectionSettings()
    app = create_service_app(
        settings,
        title="双随机一公开检查服务 (inspection)",
        description="Inspector pool, random plans with verifiable draws, field tasks, violations, publication.",
        routers=[pool_router, plans_router, tasks_router],
        consumers=consumers,
        jobs=jobs(settings if isinstance(settings, InspectionSettings) else InspectionSettings()),
        database=database,
        resolve_database_url=resolve_database_url,
    )
    # exported from the start, so dashboards and alerts see 0 rather than nothing
    app.state.metrics.counter(
        "childcare_inspection_results_published_late",
        "Inspection results published after their publication deadline (working days after submission).",
    )
    app.state.metrics.gauge(
        "childcare_inspection_results_publication_overdue",
        "Submitted inspections whose result is still unpublished after the publication deadline.",
    )
    return app
