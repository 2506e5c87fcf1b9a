"""Inspection service (双随机、一公开): ``uvicorn --factory services.inspection.app:create_app --port 8002``."""

from __future__ import annotations

from fastapi import FastAPI

from services.inspection.catalogue import router as catalogue_router
from services.inspection.complaints import jobs as complaints_jobs
from services.inspection.complaints.api import router as complaints_router
from services.inspection.consumers import consumers
from services.inspection.evidence.api import router as evidence_router
from services.inspection.jobs import jobs
from services.inspection.plans.api import router as plans_router
from services.inspection.pool.api import router as pool_router
from services.inspection.quality.api import router as quality_router
from services.inspection.quality.scheme import schemes
from services.inspection.reference import checklist, violation_catalogue
from services.inspection.settings import InspectionSettings
from services.inspection.tasks.api import router as tasks_router
from services.inspection.unlicensed import jobs as unlicensed_jobs
from services.inspection.unlicensed.api import router as unlicensed_router
from services.inspection.work.api import router as work_router
from shared.app import create_service_app
from shared.db import Database
from shared.duties import log_disabled
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or InspectionSettings()
    # Reference data and schemes are validated at start: a broken file stops the start, not a request.
    checklist()
    violation_catalogue()
    loaded = schemes()
    if isinstance(settings, InspectionSettings) and settings.quality_scheme_version not in loaded:
        raise RuntimeError(f"INSPECTION_QUALITY_SCHEME_VERSION {settings.quality_scheme_version!r} is not shipped")
    log_disabled(settings, "inspection")
    app = create_service_app(
        settings,
        title="双随机一公开检查服务 (inspection)",
        description="Inspector pool, random plans with verifiable draws, field tasks, violations, publication.",
        routers=[
            pool_router,
            plans_router,
            tasks_router,
            evidence_router,
            catalogue_router,
            complaints_router,
            unlicensed_router,
            quality_router,
            work_router,
        ],
        consumers=consumers,
        jobs=jobs(settings if isinstance(settings, InspectionSettings) else InspectionSettings())
        + unlicensed_jobs.jobs()
        + complaints_jobs.jobs(),
        database=database,
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
    app.state.metrics.gauge(unlicensed_jobs.OVERDUE, unlicensed_jobs.OVERDUE_HELP)
    app.state.metrics.gauge(unlicensed_jobs.OPEN, unlicensed_jobs.OPEN_HELP)
    return app
