import services.reporting.stats.models  # noqa: F401  (the projection tables join Base.metadata)
from services.reporting.models import Base
from shared.migrate import run_env
from shared.outbox import messaging_metadata

run_env([Base.metadata, messaging_metadata], service="reporting")
