"""Quality-assessment schemes as versioned data: ``services/inspection/quality/schemes/<version>.yaml``.

Every file is loaded and validated at start (a broken scheme stops the service): WS/T 821's seven
dimensions with their points, items summing to their dimension, unique codes, grade cut-offs best
first. The SHA-256 of each file is kept: an assessment records the hash it was scored under.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.grades import Grade

SCHEME_DIR = Path(__file__).parent / "schemes"
# WS/T 821—2023: the seven dimensions and their points (reference-domain.md §1.5), in order.
WST821_DIMENSIONS: tuple[tuple[str, int], ...] = (
    ("办托条件", 100),
    ("托育队伍", 140),
    ("保育照护", 200),
    ("卫生保健", 210),
    ("养育支持", 80),
    ("安全保障", 200),
    ("机构管理", 70),
)


class SchemeError(ValueError):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Model):
    code: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    points: float = Field(gt=0)
    veto: bool = False


class Dimension(_Model):
    code: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    points: float = Field(gt=0)
    items: tuple[Item, ...] = Field(min_length=1)


class GradeCut(_Model):
    grade: Grade
    min_score: float
    title_zh: str


class Scheme(_Model):
    version: str = Field(pattern=r"^[a-z0-9]+-v[0-9]+$")
    title_zh: str
    standard: str
    published_on: date
    max_score: float
    items_confirmed: bool
    veto_list_confirmed: bool
    grades_confirmed: bool
    note_zh: str
    grades: tuple[GradeCut, ...] = Field(min_length=1)
    lowest_grade: Grade
    lowest_grade_title_zh: str
    veto_grade: Grade
    reassess_months: dict[Grade, int]
    dimensions: tuple[Dimension, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Scheme:
        if self.standard.startswith("WS/T 821"):
            shape = tuple((d.title_zh, int(d.points)) for d in self.dimensions)
            if shape != WST821_DIMENSIONS:
                raise ValueError(f"dimensions must be WS/T 821's seven with their points, got {shape}")
        if sum(d.points for d in self.dimensions) != self.max_score:
            raise ValueError("dimension points must add up to max_score")
        codes: set[str] = set()
        for d in self.dimensions:
            if abs(sum(i.points for i in d.items) - d.points) > 1e-9:
                raise ValueError(f"{d.code}: item points must add up to the dimension's {d.points}")
            for i in d.items:
                if i.code in codes:
                    raise ValueError(f"item code {i.code} appears twice")
                codes.add(i.code)
        cuts = [g.min_score for g in self.grades]
        if cuts != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts):
            raise ValueError("grades must be listed best first with strictly decreasing min_score")
        names = [g.grade for g in self.grades] + [self.lowest_grade]
        if len(set(names)) != len(names):
            raise ValueError("each grade appears once")
        if set(self.reassess_months) != set(names):
            raise ValueError("reassess_months needs every grade")
        return self

    def items(self) -> dict[str, tuple[Dimension, Item]]:
        return {i.code: (d, i) for d in self.dimensions for i in d.items}

    def grade_for(self, score: float) -> str:
        for cut in self.grades:
            if score >= cut.min_score:
                return cut.grade
        return self.lowest_grade

    def grade_title(self, grade: str) -> str:
        for cut in self.grades:
            if cut.grade == grade:
                return cut.title_zh
        return self.lowest_grade_title_zh


class LoadedScheme(BaseModel):
    model_config = ConfigDict(frozen=True)

    scheme: Scheme
    sha256: str


def load_file(path: Path) -> LoadedScheme:
    try:
        raw = path.read_bytes()
        scheme = Scheme.model_validate(yaml.safe_load(raw.decode("utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        raise SchemeError(f"{path.name}: {exc}") from exc
    if scheme.version != path.stem:
        raise SchemeError(f"{path.name}: version {scheme.version!r} does not match the file name")
    return LoadedScheme(scheme=scheme, sha256=hashlib.sha256(raw).hexdigest())


def load_all(directory: Path = SCHEME_DIR) -> dict[str, LoadedScheme]:
    found = {p.stem: load_file(p) for p in sorted(directory.glob("*.yaml"))}
    if not found:
        raise SchemeError(f"no quality schemes in {directory}")
    return found


@functools.cache
def schemes() -> dict[str, LoadedScheme]:
    return load_all()
