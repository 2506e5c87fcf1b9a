# Every table module of the service, so autogenerate compares against the whole schema.
import services.filing.annual_reports.models
import services.filing.directory.models
import services.filing.staff.models  # noqa: F401
from services.filing.models import Base
from shared.migrate import run_env
from shared.outbox import messaging_metadata

run_env([Base.metadata, messaging_metadata], service="filing")
