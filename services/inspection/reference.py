"""The inspection checklist (随机抽查事项清单) and the violation catalogue, loaded once from
``shared/reference_data`` (the service's own loader: the CSVs are shared data, the reading is ours).

Versioned like the credit policy: ``CATALOGUE_VERSIONS`` pins each published version to the SHA-256 of
both files. Editing a CSV without declaring a new version stops the service at start (the loader
refuses), so a violation recorded under "2024-v1" always means what "2024-v1" said. The source of the
data is documented in docs/quality.md (§ Catalogue) and shared/reference_data/CATALOGUE-NOTES.md.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import shared

_DATA_DIR = Path(shared.__file__).resolve().parent / "reference_data"
CHECKLIST_FILE = "inspection_checklist.csv"
CATALOGUE_FILE = "violation_catalogue.csv"
CHILD_ABUSE_CODE = "CHILD_ABUSE"
SEVERITIES = ("minor", "general", "serious", "critical")

# version -> (sha256 of inspection_checklist.csv, sha256 of violation_catalogue.csv). A changed file
# needs a new entry here (and the new version becomes CURRENT_VERSION).
CATALOGUE_VERSIONS: dict[str, tuple[str, str]] = {
    "2024-v1": (
        "49fca88949dfc182a87fa9efe418574ecc0d1c18f7ccf1ba1d535feaa3bd8d87",
        "5f4ab324fc93b56ff6d2401b0c52b847244f0915f020e42ed1e47f1319b28307",
    ),
}
CURRENT_VERSION = "2024-v1"

# Tags of CATALOGUE-NOTES.md §3 that mean "not checked against the official text". 〔推荐性〕 is not
# among them: it says the source is a recommended standard, which is verified but not binding.
UNVERIFIED_TAGS: dict[str, str] = {
    "二手": "条款号来自二手资料，未与官方文本核对",
    "草案措辞": "措辞仅见于2019年征求意见稿报道，正式文本可能不同",
    "条号未核": "内容有报道，但条款号未能确认",
    "措辞未核": "条款号较可信，但具体义务措辞未核实",
    "未核": "依据本身未经确认（推断或回忆）",
}
RECOMMENDED_TAG = "推荐性"
RECOMMENDED_NOTE_ZH = "依据为推荐性卫生行业标准，可用于质量评估，本身不构成强制性义务"
_TAG = re.compile(r"〔([^〕]*)〕")


@dataclass(frozen=True, slots=True)
class BasisFlags:
    verified: bool
    recommended_standard: bool
    notes_zh: tuple[str, ...]


def basis_flags(basis: str) -> BasisFlags:
    """What the basis column's tags say about how sure the basis is (CATALOGUE-NOTES.md §3)."""
    notes: list[str] = []
    verified = True
    recommended = False
    for tag in _TAG.findall(basis):
        head = tag.split("：", 1)[0].strip()
        if head in UNVERIFIED_TAGS:
            verified = False
            note = UNVERIFIED_TAGS[head]
            detail = tag.split("：", 1)[1].strip() if "：" in tag else ""
            note = f"〔{head}〕{note}" + (f"：{detail}" if detail else "")
            if note not in notes:
                notes.append(note)
        elif head == RECOMMENDED_TAG:
            recommended = True
    if recommended:
        notes.append(f"〔{RECOMMENDED_TAG}〕{RECOMMENDED_NOTE_ZH}")
    return BasisFlags(verified=verified, recommended_standard=recommended, notes_zh=tuple(notes))


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    code: str
    area: str
    item_zh: str
    basis: str
    source: str = ""

    @property
    def flags(self) -> BasisFlags:
        return basis_flags(self.basis)


@dataclass(frozen=True, slots=True)
class ViolationType:
    code: str
    title_zh: str
    severity: str
    legal_basis: str
    default_rectification_days: int
    source: str = ""

    @property
    def flags(self) -> BasisFlags:
        return basis_flags(self.legal_basis)


class CatalogueError(ValueError):
    """The reference data does not match a declared version, or a row is invalid."""


def _sha256(name: str) -> str:
    return hashlib.sha256((_DATA_DIR / name).read_bytes()).hexdigest()


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA_DIR / name).open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


@functools.cache
def catalogue_version() -> str:
    """The version the files on disk are; refuses files that match no declared version."""
    found = (_sha256(CHECKLIST_FILE), _sha256(CATALOGUE_FILE))
    for version, hashes in CATALOGUE_VERSIONS.items():
        if hashes == found:
            return version
    raise CatalogueError(
        f"{CHECKLIST_FILE}/{CATALOGUE_FILE} (sha256 {found[0][:12]}…/{found[1][:12]}…) match no declared "
        "catalogue version: declare a new version in services/inspection/reference.py"
    )


def file_hashes() -> dict[str, str]:
    checklist_sha, catalogue_sha = CATALOGUE_VERSIONS[catalogue_version()]
    return {CHECKLIST_FILE: checklist_sha, CATALOGUE_FILE: catalogue_sha}


@functools.cache
def checklist() -> dict[str, ChecklistItem]:
    """All checklist items by code, in file order."""
    catalogue_version()
    items: dict[str, ChecklistItem] = {}
    for row in _rows(CHECKLIST_FILE):
        item = ChecklistItem(
            code=row["item_code"], area=row["area"], item_zh=row["item_zh"], basis=row["basis"], source=row["source"]
        )
        if not item.code or item.code in items:
            raise CatalogueError(f"{CHECKLIST_FILE}: missing or duplicate item code {item.code!r}")
        items[item.code] = item
    return items


@functools.cache
def violation_catalogue() -> dict[str, ViolationType]:
    catalogue_version()
    types: dict[str, ViolationType] = {}
    for row in _rows(CATALOGUE_FILE):
        v = ViolationType(
            code=row["code"],
            title_zh=row["title_zh"],
            severity=row["severity"],
            legal_basis=row["basis"],
            default_rectification_days=int(row["default_rectification_days"] or 0),
            source=row["source"],
        )
        if v.severity not in SEVERITIES or not v.code or v.code in types:
            raise CatalogueError(f"{CATALOGUE_FILE}: bad row {v.code!r}")
        types[v.code] = v
    if types.get(CHILD_ABUSE_CODE) is None or types[CHILD_ABUSE_CODE].severity != "critical":
        raise CatalogueError(f"{CATALOGUE_FILE}: CHILD_ABUSE must exist and be critical")
    return types
