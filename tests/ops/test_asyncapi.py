"""The AsyncAPI 3 document is generated from the event catalogue (docs/asyncapi.yaml must equal a
fresh generation) and is valid by the AsyncAPI project's own parser (@asyncapi/parser from npm, the
library the AsyncAPI CLI validates with: JSON Schema of the spec plus its spectral rules)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from shared import asyncapi
from shared.events import CATALOGUE
from shared.kafka_access import all_consumers
from shared.topics import dead_letter_topic, topic_specs
from tests.ops.conftest import ROOT, require_tool

VALIDATOR = ROOT / "tools" / "asyncapi-validate"


def start_validator(path: Path) -> subprocess.Popen[str]:
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail(
            "the AsyncAPI validator is not installed: run ./dev test (bootstrap runs npm ci in tools/asyncapi-validate)"
        )
    return subprocess.Popen(
        [require_tool("node"), str(VALIDATOR / "validate.mjs"), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Both validator runs at once (each takes a few seconds of node start-up)."""
    broken = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    # an AsyncAPI 2 habit: "publish" is not an operation action in 3.0, and a channel needs no "topic"
    first = next(iter(broken["operations"].values()))
    first["action"] = "publish"
    next(iter(broken["channels"].values()))["topic"] = "childcare.filing.events"
    broken_path = tmp_path_factory.mktemp("asyncapi") / "broken.yaml"
    broken_path.write_text(yaml.safe_dump(broken, allow_unicode=True))
    runs = {"committed": start_validator(ROOT / "docs/asyncapi.yaml"), "broken": start_validator(broken_path)}
    results = {}
    for name, process in runs.items():
        out, _ = process.communicate(timeout=60)
        print(out)  # noqa: T201 - the validator's own report, shown with pytest -s
        results[name] = (process.returncode, out)
    return results


def test_committed_document_is_the_generated_one() -> None:
    committed = (ROOT / "docs/asyncapi.yaml").read_text(encoding="utf-8")
    assert committed == asyncapi.render(), (
        "docs/asyncapi.yaml is stale: run .venv/bin/python -m shared.asyncapi --write"
    )


def test_document_is_valid_asyncapi_3(validations: dict[str, tuple[int, str]]) -> None:
    returncode, out = validations["committed"]
    assert returncode == 0, out
    # four event topics and four dead-letter topics, each with its send operation
    assert f"AsyncAPI 3.0.0, 8 channels, 8 operations, {len(CATALOGUE) + 1} messages" in out


def test_validator_rejects_an_invalid_document(validations: dict[str, tuple[int, str]]) -> None:
    returncode, out = validations["broken"]
    assert returncode == 1
    assert "error" in out


def test_every_event_type_and_topic_is_documented() -> None:
    document = asyncapi.build()
    documented = {m["name"] for m in document["components"]["messages"].values()}
    assert documented == set(CATALOGUE) | {"dead-letter"}
    channels = {c["address"]: c for c in document["channels"].values()}
    # every consumer's dead-letter topic, as the admin step creates it and the consumer writes it
    for consumer in all_consumers():
        dlq = channels[dead_letter_topic("", consumer)]
        assert dlq["bindings"]["kafka"]["partitions"] == 1
        assert dlq["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == -1
        assert set(dlq["messages"]) == {"deadLetter"}
    assert {a for a in channels if a.startswith("childcare.dlq.")} == {
        dead_letter_topic("", c) for c in all_consumers()
    }
    for spec in topic_specs(6, replication_factor=3, min_insync_replicas=2):
        binding = channels[spec.name]["bindings"]["kafka"]
        assert binding["partitions"] == spec.partitions
        assert binding["replicas"] == 3
        assert binding["topicConfiguration"]["min.insync.replicas"] == 2
    assert channels["childcare.ledger.changes"]["bindings"]["kafka"]["partitions"] == 1
    for event_type, model in CATALOGUE.items():
        message = next(m for m in document["components"]["messages"].values() if m["name"] == event_type)
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        schema = document["components"]["schemas"][data_ref.rsplit("/", 1)[-1]]
        # the payload schema is the model's own: same fields, same required ones
        own = model.model_json_schema(mode="serialization")
        assert set(schema["properties"]) == set(own["properties"])
        assert set(schema.get("required", [])) == set(own.get("required", []))
        assert schema["additionalProperties"] is False  # extra="forbid" on every event model
