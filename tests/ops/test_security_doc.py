"""docs/security.md says what the deployments do: its ACL table is the admin step's plan, and its
secrets table names every secret the compose file requires and every Secret the manifests reference."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import yaml

from shared.kafka_access import acl_bindings
from tests.ops.conftest import ROOT

DOC = (ROOT / "docs" / "security.md").read_text()


def acl_table() -> dict[str, dict[str, set[str]]]:
    """principal -> column -> names, from the table between the acl-table markers."""
    block = DOC.split("<!-- acl-table:", 1)[1].split("<!-- /acl-table -->", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    table: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        principal, writes, reads, groups = (cell.strip() for cell in row.strip("|").split("|"))
        table[principal.strip("`")] = {
            "write topic": set(re.findall(r"`([^`]+)`", writes)),
            "read topic": set(re.findall(r"`([^`]+)`", reads)),
            "read group": set(re.findall(r"`([^`]+)`", groups)),
        }
    return table


def plan() -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for binding in acl_bindings(""):
        b: Any = binding
        assert b.resource_pattern_type.name == "LITERAL"
        assert b.host == "*"
        assert b.permission_type.name == "ALLOW"
        column = f"{b.operation.name.lower()} {b.restype.name.lower()}"
        out[b.principal.removeprefix("User:")][column].add(b.name)
    return {p: dict(columns) for p, columns in out.items()}


def test_the_acl_table_is_the_plan() -> None:
    assert acl_table() == plan()


def test_the_acl_table_check_notices_a_wrong_row() -> None:
    table = acl_table()
    table["filing"]["read topic"].add("childcare.ledger.changes")
    assert table != plan()


def test_every_required_compose_secret_is_documented() -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    for name in required:
        documented = f"`{name}`" in DOC or (
            re.fullmatch(r"[A-Z]+_(KAFKA|DB_OWNER|DB_APP)_PASSWORD", name) is not None
            and f"`<SVC>_{name.split('_', 1)[1]}`" in DOC
        )
        assert documented, f"{name} is required by docker-compose.yml but not in docs/security.md"


def test_every_referenced_kubernetes_secret_is_documented() -> None:
    names = set()
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        text = path.read_text()
        names |= set(re.findall(r"secretKeyRef:\s+name: ([a-z0-9-]+)", text))
        names |= set(re.findall(r"secretName: ([a-z0-9-]+)", text))
        for doc in yaml.safe_load_all(text):
            if doc and doc["kind"] == "Cluster":
                names |= {r["passwordSecret"]["name"] for r in doc["spec"]["managed"]["roles"]}
    assert names, "no Secret referenced at all?"
    for name in names:
        generic = re.sub(r"^childcare-pg-(filing|inspection|credit|reporting)-", "childcare-pg-<svc>-", name)
        assert f"`{name}`" in DOC or f"`{generic}`" in DOC, f"{name} is not in docs/security.md"
