# Every table module of the service, so autogenerate compares against the whole schema.
import services.reporting.ledger.models
import services.reporting.stats.models  # noqa: F401
from services.reporting.models import Base
from shared.migrate import run_env
from shared.outbox import messaging_metadata

run_env([Base.metadata, messaging_metadata], service="reporting")
