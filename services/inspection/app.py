"""Inspection service (双随机、一公开): ``uvicorn --factory services.inspection.app:create_app --port 8002``.

So far it runs the kit (health, metrics, outbox relay, topics); plans, draws and the inspectors'
mobile API come with the inspection issue.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.inspection.settings import InspectionSettings
from shared.app import create_service_app
from shared.db import Database
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, database: Database | None = None) -> FastAPI:
    from devstack.postgres import resolve_database_url

    return create_service_app(
        settings or InspectionSettings(),
        title="双随机一公开检查服务 (inspection)",
        description="Inspector pool, random plans with verifiable draws, field tasks, violations, publication.",
        routers=[],
        database=database,
        resolve_database_url=resolve_database_url,
    )
