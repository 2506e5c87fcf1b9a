# Every table module of the service, so autogenerate compares against the whole schema.
import services.inspection.complaints.models
import services.inspection.evidence.models
import services.inspection.plans.models
import services.inspection.pool.models
import services.inspection.quality.models
import services.inspection.tasks.models
import services.inspection.unlicensed.models  # noqa: F401
from services.inspection.models import Base
from shared.migrate import run_env
from shared.outbox import messaging_metadata

run_env([Base.metadata, messaging_metadata], service="inspection")
