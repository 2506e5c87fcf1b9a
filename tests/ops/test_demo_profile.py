"""``python -m bench.demo_load --profile filing``: the platform starts as ``./dev run`` starts it, with
the filing service under cProfile (``devstack.run --profile``, bench/profiled.py), the demo city
loads to its end, and the profile written when the platform stops says where filing's CPU went.

A small city (20 institutions): the whole platform starts (its own Kafka, PostgreSQL, identity
provider and services on free ports), so the test takes a minute or two."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import demo_load
from devstack.run import service_command


def test_the_demo_load_profiles_the_filing_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in demo_load.SERVICES:  # the run command's own embedded PostgreSQL, as ./dev run starts it
        monkeypatch.delenv(f"{service.upper()}_DATABASE_URL", raising=False)
    result = demo_load.measure(scale=20, profile=["filing"])

    # the demo completed: every institution, and the last step waited for through Kafka (the credit repair)
    assert result["present"]["institutions"] == 20
    assert result["present"]["credit_repairs"] == 1
    assert result["cpu_seconds"]["filing"] > 0

    assert list(result["profiles"]) == ["filing"]
    profile = result["profiles"]["filing"]
    by_package = dict(profile["packages"])
    assert by_package.get("services/filing", 0) > 0, by_package  # own time in services/filing/*.py
    assert profile["busy_seconds"] > 0
    assert len(profile["functions"]) == 15
    assert "#### filing:" in demo_load.render(result)


def test_only_the_named_services_start_under_the_profiler(tmp_path: Path) -> None:
    plain = service_command("filing", 8001)
    assert plain[1:4] == ["-m", "uvicorn", "--factory"]
    profiled = service_command("filing", 8001, profile_to=tmp_path / "filing.prof")
    assert profiled[1:] == [
        "-m",
        "bench.profiled",
        str(tmp_path / "filing.prof"),
        "8001",
        "services.filing.app:create_app",
        "--no-proxy-headers",  # as the unprofiled command (bench/profiled.py: uvloop and httptools always)
    ]
    assert "--no-proxy-headers" in plain
