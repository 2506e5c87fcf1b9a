"""The grade letters, A (best) to D: a credit grade (诚信等级, shared.events.credit) and an on-site
quality assessment's grade (质量评估等级, shared.events.inspection) use the same four."""

from __future__ import annotations

from typing import Literal, get_args

Grade = Literal["A", "B", "C", "D"]
GRADES: tuple[Grade, ...] = get_args(Grade)


def grade_known(column: str = "grade") -> str:
    """The SQL of a CHECK constraint that ``column`` holds a grade letter."""
    return f"{column} IN ({', '.join(repr(g) for g in GRADES)})"
