"""Scoring an assessment against a scheme: pure, no I/O (unit-tested without a database).

Every item of the scheme must be answered once with a score between 0 and its points; a veto
(基础) item also says whether it is met. An unmet veto item fails the assessment — the grade is
the scheme's ``veto_grade`` whatever the points add up to.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.inspection.quality.scheme import Scheme


@dataclass(frozen=True)
class Answer:
    code: str
    score: float
    veto_met: bool | None = None
    note: str | None = None


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message_zh: str


class AnswersInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Result:
    score: float
    max_score: float
    grade: str
    veto_failed: bool
    veto_failed_items: list[str]
    dimension_scores: dict[str, float]
    report: dict[str, Any] = field(default_factory=dict)


def check(scheme: Scheme, answers: list[Answer]) -> None:
    items = scheme.items()
    problems: list[Problem] = []
    seen: set[str] = set()
    for n, a in enumerate(answers):
        where = f"items.{n}"
        found = items.get(a.code)
        if found is None:
            problems.append(
                Problem(f"{where}.code", "unknown_item", f"评估项目“{a.code[:30]}”不在方案{scheme.version}中")
            )
            continue
        if a.code in seen:
            problems.append(Problem(f"{where}.code", "duplicate_item", f"评估项目{a.code}重复作答"))
        seen.add(a.code)
        item = found[1]
        if not 0 <= a.score <= item.points:
            problems.append(
                Problem(f"{where}.score", "score_out_of_range", f"评估项目{a.code}得分应在0至{item.points:g}分之间")
            )
        if item.veto and a.veto_met is None:
            problems.append(Problem(f"{where}.veto_met", "veto_answer_required", f"{a.code}为否决项，须注明是否达标"))
        if not item.veto and a.veto_met is not None:
            problems.append(Problem(f"{where}.veto_met", "not_a_veto_item", f"{a.code}不是否决项，不应填写是否达标"))
    missing = [code for code in items if code not in seen]
    if missing:
        problems.append(
            Problem("items", "items_missing", f"还有{len(missing)}个评估项目未作答（如 {missing[0]}），须全部作答")
        )
    if problems:
        raise AnswersInvalid(problems)


def score(scheme: Scheme, answers: list[Answer]) -> Result:
    check(scheme, answers)
    by_code = {a.code: a for a in answers}
    dimension_scores: dict[str, float] = {}
    dimensions: list[dict[str, Any]] = []
    deficiencies: list[dict[str, Any]] = []
    veto_failed: list[str] = []
    for d in scheme.dimensions:
        got = 0.0
        for item in d.items:
            a = by_code[item.code]
            got += a.score
            if item.veto and a.veto_met is False:
                veto_failed.append(item.code)
            if a.score < item.points or (item.veto and a.veto_met is False):
                deficiencies.append(
                    {
                        "code": item.code,
                        "dimension": d.title_zh,
                        "title_zh": item.title_zh,
                        "points": item.points,
                        "score": a.score,
                        "lost": item.points - a.score,
                        "veto": item.veto,
                        "veto_met": a.veto_met,
                        "note": a.note,
                    }
                )
        dimension_scores[d.code] = round(got, 2)
        dimensions.append({"code": d.code, "title_zh": d.title_zh, "points": d.points, "score": round(got, 2)})
    total = round(sum(dimension_scores.values()), 2)
    grade = scheme.veto_grade if veto_failed else scheme.grade_for(total)
    deficiencies.sort(key=lambda x: (not (x["veto"] and x["veto_met"] is False), -x["lost"], x["code"]))
    report = {
        "scheme_version": scheme.version,
        "standard": scheme.standard,
        "score": total,
        "max_score": scheme.max_score,
        "grade": grade,
        "grade_zh": scheme.grade_title(grade),
        "grade_by_points": scheme.grade_for(total),
        "veto_failed": bool(veto_failed),
        "veto_failed_items": veto_failed,
        "dimensions": dimensions,
        "deficiencies": deficiencies,
        "grades_confirmed": scheme.grades_confirmed,
        "note_zh": scheme.note_zh,
        "conclusion_zh": (
            f"否决项未达标（{'、'.join(veto_failed)}），评估不通过，等级为{grade}（{scheme.grade_title(grade)}）"
            if veto_failed
            else f"得分{total:g}/{scheme.max_score:g}，等级{grade}（{scheme.grade_title(grade)}）"
        ),
    }
    return Result(
        score=total,
        max_score=scheme.max_score,
        grade=grade,
        veto_failed=bool(veto_failed),
        veto_failed_items=veto_failed,
        dimension_scores=dimension_scores,
        report=report,
    )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def reassess_by(scheme: Scheme, grade: str, assessed_on: date) -> date:
    return add_months(assessed_on, scheme.reassess_months[grade])  # type: ignore[index]
