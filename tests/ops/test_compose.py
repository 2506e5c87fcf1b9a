"""docker-compose.yml is the full stack and valid for ``docker-compose config`` (Debian package
``docker-compose``; no engine needed), and what it mounts matches what the configs expect."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.ops.conftest import ROOT, require_tool

SECRETS = {"POSTGRES_PASSWORD": "x", "JWT_SECRET": "x", "PII_HMAC_SECRET": "x", "PII_ENCRYPTION_SECRET": "x"}
FULL_STACK = {
    "kafka",
    "kafka-exporter",
    "postgres",
    "migrate",
    "filing",
    "inspection",
    "credit",
    "reporting",
    "prometheus",
    "grafana",
}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS} | env
    return subprocess.run(
        [require_tool("docker-compose"), "--project-directory", str(ROOT), "-f", "docker-compose.yml", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean,
        timeout=60,
    )


def resolved() -> dict[str, Any]:
    result = compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_is_valid() -> None:
    result = compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_compose_refuses_to_start_without_secrets() -> None:
    result = compose("config", "-q", env={})
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD" in result.stderr


def test_compose_is_the_full_stack() -> None:
    assert set(resolved()["services"]) == FULL_STACK


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """container path -> host path of the service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):  # docker-compose 1.x resolves to the short "host:container[:mode]"
            source, target = volume.split(":")[:2]
            if source.startswith("/"):
                out[target.rstrip("/")] = Path(source)
        elif volume.get("type") == "bind":
            out[volume["target"].rstrip("/")] = Path(volume["source"])
    return out


def test_mounted_configs_exist_and_match_what_they_are_read_as() -> None:
    services = resolved()["services"]
    prometheus = _mounts(services["prometheus"])
    assert prometheus["/etc/prometheus/prometheus.yml"] == ROOT / "deploy/prometheus/prometheus.yml"
    assert prometheus["/etc/prometheus/rules"] == ROOT / "deploy/prometheus/rules"
    grafana = _mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == ROOT / "deploy/grafana/provisioning"
    for mounts in (prometheus, grafana):
        for host in mounts.values():
            assert host.exists(), host
    # the dashboard provider reads the directory the dashboards are mounted at
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/childcare.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert grafana[path] == ROOT / "deploy/grafana/dashboards"
    # and the datasource points at the compose service
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_prometheus_scrapes_every_service_and_kafka_where_compose_runs_them() -> None:
    services = resolved()["services"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"][0] for job in scrape}
    assert set(targets) == {"filing", "inspection", "credit", "reporting", "kafka"}
    for job in ("filing", "inspection", "credit", "reporting"):
        host, port = targets[job].split(":")
        assert host in services
        command = services[host]["command"]
        assert f"--port {port}" in (command if isinstance(command, str) else " ".join(command))
    assert targets["kafka"].split(":")[0] in services
