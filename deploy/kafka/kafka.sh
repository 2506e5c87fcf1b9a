#!/usr/bin/env bash
# Local Apache Kafka 4.x broker from Maven Central jars (KRaft, one node).
#   deploy/kafka/kafka.sh fetch                 fetch the jars once (cached outside git)
#   deploy/kafka/kafka.sh start [--port 9092]   format storage if new, start, wait until it serves clients
#   deploy/kafka/kafka.sh stop                  clean shutdown (SIGTERM, SIGKILL after 30 s)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3
cd "$root"
exec "$py" -m devstack.kafka "$@"
