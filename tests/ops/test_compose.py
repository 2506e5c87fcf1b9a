"""docker-compose.yml is the full stack and valid for ``docker-compose config`` (Debian package
``docker-compose``; no engine needed), what it mounts matches what the configs expect, and every
secret reaches the containers by reference: a required variable without a default, never a literal.
The stack actually starting with those variables is tests/ops/test_production_start.py."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.kafka_access import PRINCIPALS
from tests.ops.conftest import ROOT, require_tool

SERVICES = ("filing", "inspection", "credit", "reporting")
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
# Every variable the file requires (``${NAME:?message}``), each with a distinct stand-in value.
REQUIRED = sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE_TEXT)))
SECRETS = {name: f"stand-in-{name.lower()}" for name in REQUIRED}
FULL_STACK = {
    "kafka",
    "kafka-setup",
    "kafka-monitor-setup",
    "lag-exporter",
    "postgres",
    "migrate",
    "filing",
    "inspection",
    "credit",
    "reporting",
    "prometheus",
    "grafana",
}
# Optional on purpose: set only while rotating a key (docs/security.md).
ROTATION_ONLY = {
    "JWT_KEY_ID",
    "JWT_PREVIOUS_SECRETS",
    "PII_ENCRYPTION_KEY_ID",
    "PII_PREVIOUS_ENCRYPTION_SECRETS",
    "LEDGER_PREVIOUS_VERIFIER_KEYS",
}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and k not in ROTATION_ONLY} | env
    return subprocess.run(
        [require_tool("docker-compose"), "--project-directory", str(ROOT), "-f", "docker-compose.yml", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean,
        timeout=60,
    )


@functools.cache
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
    assert any(f"set {name}" in result.stderr for name in REQUIRED)


def test_the_secrets_are_required() -> None:
    expected = {
        "JWT_SECRET",
        "PII_HMAC_SECRET",
        "PII_ENCRYPTION_SECRET",
        "LEDGER_SIGNING_KEY",
        "KAFKA_ADMIN_PASSWORD",
        "KAFKA_BROKER_PASSWORD",
        "KAFKA_CONTROLLER_PASSWORD",
        "KAFKA_MONITOR_PASSWORD",
        "POSTGRES_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        *(f"{s.upper()}_KAFKA_PASSWORD" for s in SERVICES),
        *(f"{s.upper()}_DB_{kind}_PASSWORD" for s in SERVICES for kind in ("OWNER", "APP")),
    }
    # and one setting that is not a secret but has no sensible default: the identity provider's issuer
    assert set(REQUIRED) == expected | {"OIDC_ISSUER"}
    # no secret has a fallback value anywhere in the file (``${X:-default}`` or ``${X-default}``)
    defaults = set(re.findall(r"\$\{([A-Z0-9_]+):?-", COMPOSE_TEXT))
    assert defaults <= ROTATION_ONLY, defaults - ROTATION_ONLY


@pytest.mark.parametrize("missing", REQUIRED)
def test_compose_refuses_each_missing_secret(missing: str) -> None:
    result = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def looks_secret(name: str) -> bool:
    return bool(re.search(r"(PASSWORD|SECRET|SECRETS|SIGNING_KEY)$", name))


def test_every_secret_in_a_container_comes_from_a_variable() -> None:
    """Each secret-looking variable of each container holds one of the stand-ins (it came from the
    environment), and each database URL carries one: no literal secret anywhere."""
    stand_ins = set(SECRETS.values())
    for name, service in resolved()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if looks_secret(key) and not (value == "" and key.endswith(tuple(ROTATION_ONLY))):
                assert value in stand_ins, f"{name}: {key} is not passed by reference"
            if key.endswith("_DATABASE_URL"):
                assert any(f":{v}@" in value for v in stand_ins), f"{name}: {key} has a literal password"


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (resolved()["services"][service].get("environment") or {}).items()}


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_in_production_as_its_own_principal_and_runtime_role(service: str) -> None:
    spec = resolved()["services"][service]
    e = env(service)
    prefix = service.upper()
    assert e[f"{prefix}_ENVIRONMENT"] == "production"
    assert e[f"{prefix}_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert e[f"{prefix}_KAFKA_USERNAME"] == service
    assert e[f"{prefix}_KAFKA_PASSWORD"] == SECRETS[f"{prefix}_KAFKA_PASSWORD"]
    assert e[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    app_password = SECRETS[f"{prefix}_DB_APP_PASSWORD"]
    assert e[f"{prefix}_DATABASE_URL"] == f"postgresql+asyncpg://{service}_app:{app_password}@postgres:5432/{service}"
    if service == "reporting":
        assert e["REPORTING_LEDGER_SIGNING_KEY"] == SECRETS["LEDGER_SIGNING_KEY"]
    # it starts only once the topics, users, ACLs and the schema exist
    assert spec["depends_on"]["kafka-setup"]["condition"] == "service_completed_successfully"
    assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_kafka_setup_provisions_the_passwords_the_services_use() -> None:
    spec = resolved()["services"]["kafka-setup"]
    assert spec["command"] == "python -m shared.kafka_access provision"
    e = env("kafka-setup")
    assert e["KAFKA_ADMIN_PASSWORD"] == SECRETS["KAFKA_ADMIN_PASSWORD"]
    assert e["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    for principal in PRINCIPALS:  # the admin step reads <SERVICE>_KAFKA_PASSWORD for each principal
        key = f"{principal.upper()}_KAFKA_PASSWORD"
        assert e[key] == env(principal)[key]
    assert spec["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_migrate_runs_as_each_owner_and_grants_the_runtime_role() -> None:
    spec = resolved()["services"]["migrate"]
    assert spec["command"] == "python -m shared.migrate"
    e = env("migrate")
    for service in SERVICES:
        prefix = service.upper()
        owner_password = SECRETS[f"{prefix}_DB_OWNER_PASSWORD"]
        expected = f"postgresql+asyncpg://{service}_owner:{owner_password}@postgres:5432/{service}"
        assert e[f"{prefix}_DATABASE_URL"] == expected
        assert e[f"{prefix}_DATABASE_RUNTIME_ROLE"] == f"{service}_app"
    postgres = env("postgres")
    for service in SERVICES:  # deploy/postgres/init-roles.sh creates both roles with these
        for kind in ("OWNER", "APP"):
            key = f"{service.upper()}_DB_{kind}_PASSWORD"
            assert postgres[key] == SECRETS[key]
    assert "./deploy/postgres/init-roles.sh" in COMPOSE_TEXT
    assert (ROOT / "deploy/postgres/init-roles.sh").exists()


def kafka_script() -> str:
    command = resolved()["services"]["kafka"]["command"]
    assert command[:2] == ["bash", "-ec"]
    return str(command[2]).replace("$$", "$")


def test_kafka_authenticates_and_authorizes_every_client() -> None:
    script = kafka_script()
    properties = dict(line.split("=", 1) for line in script.splitlines() if re.match(r"^[a-z][a-z0-9._-]*=", line))
    protocols = dict(item.split(":") for item in properties["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "no listener without authentication"
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == "User:broker;User:controller;User:admin"
    assert properties["auto.create.topics.enable"] == "false"
    assert "CONTROLLER://127.0.0.1:9093" in properties["listeners"], "the controller listener stays in the container"
    # the admin (and the broker's own principal) exist before anything authenticates
    assert '--add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"' in script
    assert "--ignore-formatted" in script
    e = env("kafka")
    for name in ("KAFKA_ADMIN_PASSWORD", "KAFKA_BROKER_PASSWORD", "KAFKA_CONTROLLER_PASSWORD"):
        assert e[name] == SECRETS[name]


def test_lag_exporter_is_a_describe_only_principal() -> None:
    services = resolved()["services"]
    exporter = services["lag-exporter"]
    assert exporter["command"] == ["python", "-m", "shared.lag_exporter"]
    assert exporter["image"] == services["filing"]["image"]  # the platform's own image
    e = exporter["environment"]
    assert e["KAFKA_USERNAME"] == "monitor"
    assert e["KAFKA_PASSWORD"] == SECRETS["KAFKA_MONITOR_PASSWORD"]
    # the scrape target prometheus.yml names
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (kafka_job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "kafka"]
    assert kafka_job["static_configs"][0]["targets"] == [f"lag-exporter:{e['LAG_EXPORTER_PORT']}"]
    assert exporter["depends_on"]["kafka-monitor-setup"]["condition"] == "service_completed_successfully"
    script = str(services["kafka-monitor-setup"]["command"][2]).replace("$$", "$")
    acl_lines = [line for line in script.split("/opt/kafka/bin/") if line.startswith("kafka-acls.sh")]
    (acls,) = acl_lines
    assert re.findall(r"--operation (\w+)", acls) == ["Describe"]
    assert "--allow-principal User:monitor" in acls
    assert "--resource-pattern-type prefixed" in acls
    assert "--topic childcare." in acls
    assert "--group childcare." in acls


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
