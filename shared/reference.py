"""Reference data: Guangzhou's 11 districts (区) and 178 streets/towns (街道/镇).

Loaded once (``functools.cache``) from ``shared/reference_data/gz_districts.csv``
and ``shared/reference_data/gz_streets.csv``. The returned dicts are shared
cached objects: treat them as read-only.
"""

from __future__ import annotations

import csv
import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "District",
    "ReferenceDataError",
    "Street",
    "district_by_name_or_code",
    "districts",
    "streets",
    "streets_of",
    "validate_location",
]

_DATA_DIR = Path(__file__).resolve().parent / "reference_data"
_DISTRICTS_CSV = "gz_districts.csv"
_STREETS_CSV = "gz_streets.csv"


# Guangzhou's administrative area lies within this box (with a small margin): a coordinate outside
# it cannot be a Guangzhou address.
GZ_LATITUDE = (22.5, 24.0)
GZ_LONGITUDE = (112.9, 114.1)


@dataclass(frozen=True, slots=True)
class District:
    """A district of Guangzhou with its childcare-place (托位) planning figures."""

    code: str  # 6-digit administrative division code, e.g. "440106"
    name: str  # e.g. "天河区"
    slots_2022: int
    target_2023: int
    target_2024: int
    target_2025: int
    slots_planned_2025: int
    population_10k: float  # resident population 2023, in units of 10,000

    @property
    def slots_to_add(self) -> int:
        """Places to add between 2022 and the 2025 plan."""
        return self.slots_planned_2025 - self.slots_2022


@dataclass(frozen=True, slots=True)
class Street:
    """A street (街道), town (镇) or equivalent area within a district."""

    code: str  # 9-digit code, e.g. "440106001"; the first 6 digits are the district code
    name: str
    district_code: str


class ReferenceDataError(ValueError):
    """A value does not match the reference data.

    ``field`` names the offending input field, ``code`` is a stable English
    error code and ``message_zh`` a Simplified Chinese message for end users.
    """

    def __init__(self, field: str, code: str, message_zh: str) -> None:
        super().__init__(f"{field}: {code}: {message_zh}")
        self.field = field
        self.code = code
        self.message_zh = message_zh

    def __reduce__(self) -> tuple[type[ReferenceDataError], tuple[str, str, str]]:
        return (type(self), (self.field, self.code, self.message_zh))


def _read_csv(name: str) -> list[dict[str, str]]:
    with (_DATA_DIR / name).open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


@functools.cache
def districts() -> dict[str, District]:
    """All districts keyed by 6-digit code, in the order of the source file."""
    result: dict[str, District] = {}
    for row in _read_csv(_DISTRICTS_CSV):
        d = District(
            code=row["district_code"],
            name=row["district_name"],
            slots_2022=int(row["slots_2022"]),
            target_2023=int(row["target_2023"]),
            target_2024=int(row["target_2024"]),
            target_2025=int(row["target_2025"]),
            slots_planned_2025=int(row["slots_planned_2025"]),
            population_10k=float(row["population_2023_10k"]),
        )
        if len(d.code) != 6 or not d.code.isdigit() or d.code in result:
            raise ValueError(f"{_DISTRICTS_CSV}: invalid or duplicate district code {d.code!r}")
        if row.get("slots_to_add") and int(row["slots_to_add"]) != d.slots_to_add:
            raise ValueError(f"{_DISTRICTS_CSV}: slots_to_add inconsistent for {d.code}")
        result[d.code] = d
    return result


@functools.cache
def streets() -> dict[str, Street]:
    """All streets/towns keyed by 9-digit code, in the order of the source file."""
    known = districts()
    result: dict[str, Street] = {}
    for row in _read_csv(_STREETS_CSV):
        s = Street(code=row["street_code"], name=row["street_name"], district_code=row["district_code"])
        if len(s.code) != 9 or not s.code.isdigit() or s.code in result:
            raise ValueError(f"{_STREETS_CSV}: invalid or duplicate street code {s.code!r}")
        if s.district_code not in known or not s.code.startswith(s.district_code):
            raise ValueError(f"{_STREETS_CSV}: street {s.code} has inconsistent district {s.district_code!r}")
        result[s.code] = s
    return result


@functools.cache
def _district_names() -> dict[str, District]:
    """Index by full name ("天河区") and by name without the trailing 区 ("天河")."""
    index: dict[str, District] = {}
    for d in districts().values():
        index[d.name] = d
        index.setdefault(d.name.removesuffix("区"), d)
    return index


@functools.cache
def _streets_by_district() -> dict[str, tuple[Street, ...]]:
    grouped: dict[str, list[Street]] = {code: [] for code in districts()}
    for s in streets().values():
        grouped[s.district_code].append(s)
    return {code: tuple(sorted(items, key=lambda s: s.code)) for code, items in grouped.items()}


def _clean(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split())


def district_by_name_or_code(value: str) -> District | None:
    """Look up a district by 6-digit code ("440106") or Chinese name ("天河区"; "天河" also accepted).

    Returns ``None`` if nothing matches. (Not memoised per input — the indexes are.)
    """
    if not isinstance(value, str):
        return None
    key = _clean(value)
    if not key:
        return None
    if key.isascii() and key.isdigit():
        return districts().get(key)
    return _district_names().get(key)


def streets_of(district_code: str) -> list[Street]:
    """Streets/towns of a district (code, or name as accepted by :func:`district_by_name_or_code`),
    sorted by code; empty list for an unknown district."""
    district = district_by_name_or_code(district_code)
    if district is None:
        return []
    return list(_streets_by_district()[district.code])


def _shown(value: str, limit: int = 20) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def validate_location(district: str, street_code: str) -> tuple[District, Street]:
    """Check that ``street_code`` is a known street/town lying in ``district`` (code or name).

    Raises :class:`ReferenceDataError` with code ``unknown_district`` (field
    ``district``), ``unknown_street`` or ``street_not_in_district`` (field
    ``street_code``).
    """
    d = district_by_name_or_code(district)
    if d is None:
        raw = _clean(district) if isinstance(district, str) else ""
        shown = f"“{_shown(raw)}”" if raw else ""
        raise ReferenceDataError("district", "unknown_district", f"所属区{shown}不是广州市的行政区，请从11个区中选择")
    code = _clean(street_code) if isinstance(street_code, str) else ""
    s = streets().get(code)
    if s is None:
        shown = f"“{_shown(code)}”" if code else ""
        raise ReferenceDataError(
            "street_code", "unknown_street", f"街道（镇）代码{shown}不存在，请从{d.name}的街道（镇）列表中选择"
        )
    if s.district_code != d.code:
        actual = districts()[s.district_code]
        raise ReferenceDataError(
            "street_code",
            "street_not_in_district",
            f"{s.name}（{s.code}）不属于{d.name}，而属于{actual.name}",
        )
    return d, s
