"""Monitoring beside the local platform: the lag exporter and a real Prometheus (Debian's
``prometheus`` binary; ``./dev`` installs the package) with the project's alert rules.

``./dev run --monitoring`` uses it, and so does the alert test (tests/ops/test_alerts.py), which
gives Prometheus a copy of the rules with shorter ``for:`` durations. The configuration is
deploy/prometheus/prometheus.yml with its targets pointed at this machine: the same jobs, the same
rules, only the addresses differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from devstack.kafka import die_with_parent
from shared.kafka_access import MONITOR_PRINCIPAL
from shared.settings import dev_kafka_password

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
EXPORTER_JOB = "kafka"  # prometheus.yml's job for the lag exporter


def project_rule_files() -> list[str]:
    return sorted(str(p) for p in RULES_DIR.glob("*.yml"))


def local_prometheus_config(
    service_ports: dict[str, int],
    exporter_port: int,
    *,
    rule_files: list[str] | None = None,
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with every job scraping this machine."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["rule_files"] = rule_files if rule_files is not None else project_rule_files()
    for job in config["scrape_configs"]:
        name = job["job_name"]
        port = exporter_port if name == EXPORTER_JOB else service_ports[name]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    if scrape_interval:
        config["global"]["scrape_interval"] = scrape_interval
        config["global"]["scrape_timeout"] = scrape_interval
    if evaluation_interval:
        config["global"]["evaluation_interval"] = evaluation_interval
    return config


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise SystemExit(
            "prometheus is not installed: ./dev installs it (Debian package prometheus), "
            "or: sudo apt-get install --no-install-recommends prometheus"
        )
    return path


class LocalPrometheus:
    """One Prometheus server on 127.0.0.1:``port`` with its data under ``workdir``."""

    def __init__(self, workdir: Path, port: int, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = port
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.proc = subprocess.Popen(
            [
                prometheus_binary(),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"prometheus exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"prometheus not ready after {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus /api/v1/{path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return list(data["result"])

    def firing(self) -> list[dict[str, Any]]:
        """The alerts firing now (pending ones are not)."""
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]


def start_lag_exporter(
    bootstrap: str, port: int, log: Path, *, namespace: str = "", interval_seconds: float = 15.0
) -> subprocess.Popen[bytes]:
    """``python -m shared.lag_exporter`` against the local broker, as the monitor principal."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_USERNAME": MONITOR_PRINCIPAL,
        "KAFKA_PASSWORD": dev_kafka_password(MONITOR_PRINCIPAL),
        "KAFKA_NAMESPACE": namespace,
        "LAG_EXPORTER_HOST": "127.0.0.1",
        "LAG_EXPORTER_PORT": str(port),
        "LAG_EXPORTER_INTERVAL_SECONDS": str(interval_seconds),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "shared.lag_exporter"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
