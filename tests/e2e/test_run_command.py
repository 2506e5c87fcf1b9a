"""The README's run command, as a user runs it: it starts Kafka, PostgreSQL, the OpenID Connect
provider and the four services from nothing (with ``--monitoring``, the lag exporter and Prometheus with
the project's rules too), files an institution over HTTP and sees it in credit and the ledger, signs an
officer in through the provider, then stops."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from devstack.kafka import free_port
from devstack.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def test_run_command_brings_up_the_platform_and_the_slice_works(tmp_path: Path) -> None:
    kafka_port = free_port()
    port_base = free_port_block()
    env = {
        **os.environ,
        "CHILDCARE_DATA": str(tmp_path / "data"),
        "CHILDCARE_PORT_BASE": str(port_base),
        "CHILDCARE_KAFKA_PORT": str(kafka_port),
    }
    for service in ("FILING", "INSPECTION", "CREDIT", "REPORTING"):
        env.pop(f"{service}_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "devstack.run", "--check", "--no-demo", "--monitoring", "--kafka-port", str(kafka_port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for service in ("filing", "inspection", "credit", "reporting"):
        assert f"  {service}" in output
    assert "✔ smoke: institution filed → credit record and ledger entry visible" in output
    assert "✔ sign-in: demo-officer-440106 through the OIDC provider (code + PKCE) → filing answered 200" in output
    # Prometheus answered ready with the project's rule files, and its URL is in the table
    assert f"  prometheus   http://127.0.0.1:{port_base + 1090}" in output
    assert f"  lag-exporter http://127.0.0.1:{port_base + 1308}/metrics" in output
    config = (tmp_path / "data" / "prometheus" / "prometheus.yml").read_text()
    assert str(ROOT / "deploy" / "prometheus" / "rules" / "platform.yml") in config
    assert "▶ stopped" in output
    # everything it started, it stopped: no broker, identity provider or Prometheus left on their ports
    for port in (kafka_port, port_base + 10, port_base + 1090, port_base + 1308):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
