"""The services run on uvloop and httptools wherever they are started: ``./dev run``
(devstack.run.service_command, which the fault suite's processes in devstack.faults use too),
docker-compose and the Kubernetes Deployments name both, and a
service started by each command reports both from the running process (``childcare_server_info`` on
/metrics: the loop's own type and the module of uvicorn's request cycle, shared.app.ServiceApp). The
same service started on asyncio and h11 reports those, so the report is read, not assumed.

Only the listening address is remapped; the database is never reached (no background workers, and
/healthz and /metrics do not touch it)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devstack.kafka import free_port
from devstack.run import service_command

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("filing", "inspection", "credit", "reporting")


def compose_command(service: str) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return shlex.split(compose["services"][service]["command"])


def k8s_command(service: str) -> list[str]:
    for document in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{service}.yaml").read_text()):
        if document and document.get("kind") == "Deployment":
            return list(document["spec"]["template"]["spec"]["containers"][0]["command"])
    raise AssertionError(f"no Deployment in deploy/k8s/{service}.yaml")


def with_address(argv: list[str], port: int) -> list[str]:
    """The deployment's uvicorn command on this machine: the virtualenv's uvicorn, loopback, ``port``."""
    argv = list(argv)
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    if argv[0] == "uvicorn":
        argv[0] = str(Path(sys.executable).parent / "uvicorn")
    return argv


def server_info(argv: list[str], port: int, log: Path) -> dict[str, str]:
    """Start the filing service with ``argv``, make one request, read what /metrics says serves it."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "FILING_ENVIRONMENT": "development",
        "FILING_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",  # never connected to here
        "FILING_RUN_BACKGROUND_WORKERS": "false",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        proc.terminate()
        proc.wait(30)
    samples = [
        s.labels
        for family in text_string_to_metric_families(text)
        if family.name == "childcare_server_info"
        for s in family.samples
        if s.value == 1
    ]
    assert len(samples) == 1, samples
    return samples[0]


@pytest.mark.parametrize("service", SERVICES)
def test_every_start_command_names_uvloop_and_httptools(service: str) -> None:
    for argv in (service_command(service, 8000), compose_command(service), k8s_command(service)):
        assert argv[argv.index("--loop") + 1] == "uvloop", argv
        assert argv[argv.index("--http") + 1] == "httptools", argv


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda port: service_command("filing", port), id="dev-run"),
        pytest.param(lambda port: with_address(compose_command("filing"), port), id="compose"),
        pytest.param(lambda port: with_address(k8s_command("filing"), port), id="k8s"),
    ],
)
def test_a_started_service_reports_uvloop_and_httptools(command: Callable[[int], list[str]], tmp_path: Path) -> None:
    port = free_port()
    argv = command(port)
    seen = server_info(argv, port, tmp_path / "filing.log")
    assert seen == {"loop": "uvloop", "http": "httptools"}
    assert '"msg": "serving HTTP", "loop": "uvloop", "http": "httptools"' in (tmp_path / "filing.log").read_text()


def test_the_report_follows_the_server_not_the_configuration(tmp_path: Path) -> None:
    port = free_port()
    argv = service_command("filing", port)
    argv[argv.index("--loop") + 1] = "asyncio"
    argv[argv.index("--http") + 1] = "h11"
    assert server_info(argv, port, tmp_path / "filing.log") == {"loop": "asyncio", "http": "h11"}
