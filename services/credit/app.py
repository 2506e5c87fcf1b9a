"""Credit service (诚信档案): ``uvicorn --factory services.credit.app:create_app --port 8003``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from services.credit.consumers import make_consumers
from services.credit.env import CreditEnv
from services.credit.evaluation.api import public_router
from services.credit.evaluation.api import router as evaluation_router
from services.credit.jobs import jobs
from services.credit.policy.api import router as policy_router
from services.credit.policy.documents import POLICY_DIR, PolicyError, default_registry
from services.credit.repair.api import router as repair_router
from services.credit.settings import CreditSettings
from services.credit.work.api import router as work_router
from shared.app import create_service_app
from shared.db import Database
from shared.duties import log_disabled
from shared.settings import ServiceSettings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ServiceSettings | None = None,
    database: Database | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """``clock`` replaces the wall clock (tests drive expiry and repair dates with it)."""
    if settings is not None and not isinstance(settings, CreditSettings):
        raise TypeError("the credit service needs CreditSettings")
    credit_settings = settings or CreditSettings()
    # Every policy version is loaded and validated now: a broken document stops the start.
    registry = default_registry(credit_settings.policy_dir or str(POLICY_DIR))
    if registry.get(credit_settings.default_policy_version) is None:
        raise PolicyError(f"default policy version {credit_settings.default_policy_version} not found")
    env = CreditEnv(registry=registry, default_version=credit_settings.default_policy_version, now=clock or _utc_now)
    log_disabled(credit_settings, "credit")
    app = create_service_app(
        credit_settings,
        title="诚信档案服务 (credit)",
        description="Credit records, scores and grades for institutions and staff; dishonesty lists; repair.",
        routers=[evaluation_router, repair_router, policy_router, public_router, work_router],
        consumers=make_consumers(env),
        jobs=jobs(env, credit_settings),
        database=database,
        # evidence uploads read more than the 1 MiB of a JSON body (still refused beyond their own limit)
        body_limits={
            ("POST", "/v1/credit/entries/{entry_id}/evidence"): getattr(
                credit_settings, "evidence_max_bytes", 10 * 1024 * 1024
            )
        },
    )
    app.state.credit_env = env
    # exported from the start, so dashboards and alerts see 0 rather than nothing
    app.state.metrics.counter("childcare_credit_regrades", "Grade changes found by the scheduled re-evaluation.")
    return app
