"""The inspection checklist (随机抽查事项清单) and the violation catalogue, loaded once from
``shared/reference_data`` (the service's own loader: the CSVs are shared data, the reading is ours)."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import shared

_DATA_DIR = Path(shared.__file__).resolve().parent / "reference_data"
CHILD_ABUSE_CODE = "CHILD_ABUSE"
SEVERITIES = ("minor", "general", "serious", "critical")


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    code: str
    area: str
    item_zh: str
    basis: str


@dataclass(frozen=True, slots=True)
class ViolationType:
    code: str
    title_zh: str
    severity: str
    legal_basis: str
    default_rectification_days: int


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA_DIR / name).open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


@functools.cache
def checklist() -> dict[str, ChecklistItem]:
    """All checklist items by code, in file order."""
    items: dict[str, ChecklistItem] = {}
    for row in _rows("inspection_checklist.csv"):
        item = ChecklistItem(code=row["item_code"], area=row["area"], item_zh=row["item_zh"], basis=row["basis"])
        if not item.code or item.code in items:
            raise ValueError(f"inspection_checklist.csv: missing or duplicate item code {item.code!r}")
        items[item.code] = item
    return items


@functools.cache
def violation_catalogue() -> dict[str, ViolationType]:
    types: dict[str, ViolationType] = {}
    for row in _rows("violation_catalogue.csv"):
        v = ViolationType(
            code=row["code"],
            title_zh=row["title_zh"],
            severity=row["severity"],
            legal_basis=row["basis"],
            default_rectification_days=int(row["default_rectification_days"] or 0),
        )
        if v.severity not in SEVERITIES or not v.code or v.code in types:
            raise ValueError(f"violation_catalogue.csv: bad row {v.code!r}")
        types[v.code] = v
    if types.get(CHILD_ABUSE_CODE) is None or types[CHILD_ABUSE_CODE].severity != "critical":
        raise ValueError("violation_catalogue.csv: CHILD_ABUSE must exist and be critical")
    return types
