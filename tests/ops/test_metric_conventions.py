"""Metric names follow Prometheus conventions on every running service, the issue's RED, pipeline
and domain SLA metrics exist, and every metric that an alert rule or a Grafana dashboard queries is
really exported by a running service (a typo in PromQL would otherwise just draw an empty panel or
never fire)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import JOB_EXPORTED, PROBE_ID, ROOT, parameterised_route
from tests.support import Platform

SERVICES = ("filing", "inspection", "credit", "reporting")
PIPELINE = (
    "childcare_http_requests_total",
    "childcare_http_request_duration_seconds_bucket",
    "childcare_outbox_pending",
    "childcare_outbox_oldest_pending_age_seconds",
    "childcare_events_published_total",
    "childcare_events_consumed_total",
    "childcare_event_processing_duration_seconds_bucket",
    "childcare_consumer_lag",
    "childcare_dead_letter_events_total",
    "childcare_consumer_last_processed_timestamp_seconds",
    "childcare_consumer_batch_in_flight_seconds",
    "childcare_consumer_last_poll_timestamp_seconds",
)
DOMAIN = {
    **{s: tuple(names) for s, names in JOB_EXPORTED.items()},
    "inspection": (*JOB_EXPORTED["inspection"], "childcare_inspection_results_published_late_total"),
}
# Series-name suffixes of each metric type, as the text exposition writes them.
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "unknown": ("",),
}
NON_BASE_UNITS = re.compile(
    r"_(milliseconds|microseconds|nanoseconds|ms|us|minutes|hours|days|weeks|kilobytes|megabytes|gigabytes|kb|mb|gb|percent|pct)(_|$)"
)
TIME_WORDS = re.compile(r"_(duration|latency|age|time|timestamp|elapsed|uptime)(_|$)")
ID_LABEL = re.compile(
    r"(^|_)(id|ids|uuid|key|ref|uscc|email|phone|name|path|url|user|person|institution|staff|trace|request)$"
)
ID_VALUE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-9A-Z]{18}|\d{7,}", re.IGNORECASE
)
OUR_PREFIXES = ("childcare_", "process_", "python_")
METRIC_REF = re.compile(r"\b((?:childcare|process|python)_[a-z0-9_]+)\b")


def families(text: str) -> dict[str, tuple[str, str, list[tuple[str, dict[str, str]]]]]:
    """family name -> (type, help, [(sample name, labels)])."""
    return {
        f.name: (f.type, f.documentation, [(s.name, s.labels) for s in f.samples])
        for f in text_string_to_metric_families(text)
    }


def series_names(text: str) -> set[str]:
    """Every series name the exposition can produce, including declared families with no samples."""
    names: set[str] = set()
    for name, (kind, _, samples) in families(text).items():
        names.update(name + suffix for suffix in SUFFIXES[kind])
        names.update(sample for sample, _ in samples)
    return names


@pytest.mark.parametrize("service", [*SERVICES, "kafka"])  # "kafka": the lag exporter
def test_metric_names_follow_prometheus_conventions(live_metrics: dict[str, str], service: str) -> None:
    problems = []
    for name, (kind, documentation, samples) in families(live_metrics[service]).items():
        if not name.startswith(OUR_PREFIXES):
            problems.append(f"{name}: not under the childcare_ prefix")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"{name}: not snake_case")
        if not documentation.strip():
            problems.append(f"{name}: no HELP text")
        if name.endswith("_total"):
            problems.append(f"{name} ({kind}): _total is only for counters, and added by the exposition")
        if kind == "counter" and any(not s.endswith(("_total", "_created")) for s, _ in samples):
            problems.append(f"{name}: counter sample without _total")
        if NON_BASE_UNITS.search(name):
            problems.append(f"{name}: not in base units (seconds, bytes, ratio)")
        if TIME_WORDS.search(name) and not name.endswith("_seconds") and not name.endswith("_seconds_total"):
            problems.append(f"{name}: a time must be in _seconds")
        if kind == "histogram" and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: histogram without a base unit suffix")
        for _, labels in samples:
            for label, value in labels.items():
                if label != "le" and ID_LABEL.search(label):
                    problems.append(f"{name}: id-like label {label!r}")
                if ID_VALUE.search(value):
                    problems.append(f"{name}: id-like label value {label}={value!r}")
    assert problems == []


@pytest.mark.parametrize("service", SERVICES)
def test_red_pipeline_and_domain_metrics_are_exported(live_metrics: dict[str, str], service: str) -> None:
    names = series_names(live_metrics[service])
    missing = [m for m in (*PIPELINE, *DOMAIN[service]) if m not in names]
    assert missing == []


@pytest.mark.parametrize("service", SERVICES)
def test_http_metrics_are_labelled_by_route_template(
    live_metrics: dict[str, str], platform: Platform, service: str
) -> None:
    template = parameterised_route(platform, service)
    text = live_metrics[service]
    if template is not None:  # the reporting API has no path parameters today
        assert f'route="{template}"' in text
    assert 'route="unmatched"' in text  # the 404 probe: unknown paths share one series
    assert PROBE_ID not in text


# --- every metric an alert or a dashboard queries exists --------------------------------------------


def rule_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield f"{path.name}:{rule.get('alert') or rule.get('record')}", rule["expr"]


def _walk(node: object) -> Iterator[dict[str, object]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def dashboard_paths() -> list[Path]:
    return sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in dashboard_paths():
        for node in _walk(json.loads(path.read_text())):
            if isinstance(node.get("expr"), str):
                yield f"{path.name}:{node.get('refId')}", str(node["expr"])
            query = node.get("query")
            if node.get("type") == "query" and isinstance(query, dict) and isinstance(query.get("query"), str):
                yield f"{path.name}:${node.get('name')}", query["query"]


def referenced_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression (crude: string literals removed, then our prefixes)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(METRIC_REF.findall(without_strings))


def test_reference_extraction_is_not_vacuous() -> None:
    assert referenced_metrics('sum(rate(childcare_http_requests_total{route="/v1/childcare_x"}[5m]))') == {
        "childcare_http_requests_total"
    }
    rules = list(rule_expressions())
    dashboards = list(dashboard_expressions())
    assert len(rules) >= 11
    assert len(dashboards) >= 25
    assert all(referenced_metrics(e) or e.strip().startswith("up") for _, e in rules)


def test_every_metric_in_alerts_and_dashboards_exists(live_metrics: dict[str, str]) -> None:
    exported = set().union(*(series_names(text) for text in live_metrics.values()))
    unknown = {
        f"{where}: {metric}"
        for where, expr in (*rule_expressions(), *dashboard_expressions())
        for metric in referenced_metrics(expr)
        if metric not in exported
    }
    assert unknown == set()


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    seen_uids = set()
    for path in dashboard_paths():
        board = json.loads(path.read_text())
        assert board["uid"] not in seen_uids, f"{path.name}: duplicate dashboard uid"
        seen_uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for node in _walk(board):
            ds = node.get("datasource")
            if isinstance(ds, dict):
                assert ds.get("uid") in uids, f"{path.name}: datasource {ds} is not provisioned"
    assert {"childcare-red", "childcare-pipeline", "childcare-sla"} <= seen_uids


def runbook_anchors() -> set[str]:
    anchors = set()
    for line in (ROOT / "docs/runbook.md").read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            # GitHub's slug: drop punctuation except hyphens and spaces, spaces become hyphens
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", title)))
    return anchors


def test_every_alert_links_to_an_existing_runbook_section() -> None:
    anchors = runbook_anchors()
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                url = rule["annotations"]["runbook_url"]
                assert url.startswith("https://github.com/gz-childcare/platform/blob/main/docs/runbook.md#")
                assert url.split("#", 1)[1] in anchors, f"{rule['alert']}: {url} has no section in docs/runbook.md"
