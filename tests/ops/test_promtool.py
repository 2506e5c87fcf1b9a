"""Prometheus configuration, alert rules (with their unit tests) and every service's live
``/metrics``, each checked by Prometheus's own tool, promtool (Debian package ``prometheus``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ops.conftest import ROOT, require_tool

PROMETHEUS = ROOT / "deploy" / "prometheus"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [require_tool("promtool"), *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    print(f"$ promtool {' '.join(args)}\n{result.stdout}{result.stderr}")  # noqa: T201 - shown with pytest -s
    return result


def rule_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (PROMETHEUS / "rules").glob("*.yml"))


def test_prometheus_config_is_valid() -> None:
    result = promtool("check", "config", str((PROMETHEUS / "prometheus.yml").relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    # the config must load the rule files it ships with (a glob that matches nothing is not an error)
    for name in rule_files():
        assert Path(name).name in result.stdout, f"{name} not loaded by prometheus.yml"


def test_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", *rule_files())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rule_unit_tests_pass() -> None:
    tests = sorted(str(p.relative_to(ROOT)) for p in (PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


@pytest.mark.parametrize("service", ["filing", "inspection", "credit", "reporting"])
def test_live_metrics_pass_promtool_lint(live_metrics: dict[str, str], service: str) -> None:
    text = live_metrics[service]
    assert "childcare_build_info" in text
    result = promtool("check", "metrics", stdin=text)
    # promtool exits non-zero and prints "<metric> <problem>" for every lint finding
    assert result.returncode == 0, f"{service}: {result.stdout}{result.stderr}"
    assert (result.stdout + result.stderr).strip() == "", f"{service}: {result.stdout}{result.stderr}"
