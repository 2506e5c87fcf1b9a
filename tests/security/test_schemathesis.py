"""Hostile input, generated from each service's own OpenAPI document by schemathesis and sent over
HTTP to the platform as the run command starts it: no request may produce a 5xx, and every response
must match the schema the service publishes.

One token holds every role (and every district), so the generated requests reach the code behind
the role gates; tests/security/test_access_matrix.py proves the gates themselves.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.kafka import free_port
from devstack.ports import free_port_block
from shared.auth import TokenSettings, mint_token
from shared.reference import districts

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"filing": 1, "inspection": 2, "credit": 3, "reporting": 4}


@pytest.fixture(scope="module")
def platform_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    base = free_port_block()
    env = {
        **os.environ,
        "CHILDCARE_DATA": str(tmp_path_factory.mktemp("schemathesis-platform")),
        "CHILDCARE_PORT_BASE": str(base),
        "CHILDCARE_KAFKA_PORT": str(free_port()),
    }
    for service in SERVICES:
        env.pop(f"{service.upper()}_DATABASE_URL", None)
    log = Path(env["CHILDCARE_DATA"]) / "run.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.run", "--no-demo"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while "Ctrl-C stops everything" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the platform did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.5)
    yield base
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("strings", ["generated", "control_characters"])
@pytest.mark.parametrize("service", list(SERVICES))
def test_no_5xx_and_responses_match_the_published_schema(platform_ports: int, service: str, strings: str) -> None:
    """``control_characters``: the same run with a control, bidi or invisible character put into the
    middle of every generated string (tests/security/schemathesis_control_characters.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if strings == "control_characters":
        env["SCHEMATHESIS_HOOKS"] = "tests.security.schemathesis_control_characters"
    token = mint_token(
        TokenSettings(),
        subject="schemathesis",
        roles=["filing_officer", "supervisor", "inspector", "credit_officer", "ops", "agency:market_regulation"],
        districts=sorted(districts()),
    )
    url = f"http://127.0.0.1:{platform_ports + SERVICES[service]}/openapi.json"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            url,
            "--header",
            f"Authorization: Bearer {token}",
            "--header",
            "Idempotency-Key: schemathesis-0001",
            "--max-examples",
            "10",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--seed",
            "20261129",
            "--request-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    print(f"{service} ({strings}): {summary.group(0) if summary else 'no summary'}")  # noqa: T201 - the figure the note reports
    assert result.returncode == 0, output[-6000:]
    assert summary is not None, output[-3000:]
    assert summary.group(1) == summary.group(2)
    assert int(summary.group(1)) > 100, "too few requests to say anything"
