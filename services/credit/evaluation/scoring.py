"""Pure scoring: ``evaluate(entries, policy, as_of)`` → score, grade, explained lines, list membership.

No I/O and no clock of its own: the same entries, policy and instant always give the same result, so
a grade can be reproduced under any policy version at any date, and order of arrival cannot matter.

The explanation is exhaustive: one line for the base score, one per entry (zero points when it does
not count, with the reason), and one for the floor if the score was raised to the policy's minimum;
the lines always sum to the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from services.credit.policy.documents import ListName, Policy
from shared.grades import Grade

LineStatus = Literal["base", "counting", "capped", "expired", "repaired", "not_yet_effective", "unknown_rule", "floor"]


@dataclass(frozen=True)
class EntryInput:
    entry_id: str
    rule_id: str
    effective_from: datetime
    source_event_id: str
    source_event_type: str
    detail_zh: str = ""
    legal_basis: str | None = None  # the event's own basis (a violation's article); else the rule's
    repaired_at: datetime | None = None
    subject_kind: str | None = None  # when given, a rule the version does not apply to this kind scores 0


@dataclass(frozen=True)
class Line:
    status: LineStatus
    points: int
    nominal_points: int
    explanation_zh: str
    entry_id: str | None = None
    rule_id: str | None = None
    title_zh: str | None = None
    legal_basis: str | None = None
    source_event_id: str | None = None
    source_event_type: str | None = None
    effective_from: datetime | None = None
    counts_until: datetime | None = None
    repaired_at: datetime | None = None


@dataclass(frozen=True)
class ListStatus:
    until: datetime | None  # None = no end
    cause_entry_ids: tuple[str, ...]
    reason_zh: str


@dataclass(frozen=True)
class Evaluation:
    policy_version: str
    as_of: datetime
    score: int
    grade: Grade
    forced_lowest_grade: bool
    lines: tuple[Line, ...]
    lists: dict[ListName, ListStatus] = field(default_factory=dict)


def _fmt(moment: datetime | None) -> str:
    return "长期" if moment is None else moment.date().isoformat()


def evaluate(entries: Iterable[EntryInput], policy: Policy, as_of: datetime) -> Evaluation:
    lines: list[Line] = [
        Line(
            status="base",
            points=policy.base_score,
            nominal_points=policy.base_score,
            explanation_zh=f"基础分（信用评价规则{policy.version}）",
        )
    ]
    used: dict[str, int] = {}
    forced = False
    lists: dict[ListName, tuple[datetime | None, list[str], list[str]]] = {}
    # Earliest first, so a cap keeps the entries that came first (ties broken by id: deterministic).
    for entry in sorted(entries, key=lambda e: (e.effective_from, e.entry_id)):
        rule = policy.rules.get(entry.rule_id)
        common = {
            "entry_id": entry.entry_id,
            "rule_id": entry.rule_id,
            "source_event_id": entry.source_event_id,
            "source_event_type": entry.source_event_type,
            "effective_from": entry.effective_from,
            "repaired_at": entry.repaired_at,
        }
        if rule is None or (entry.subject_kind is not None and entry.subject_kind not in rule.applies_to):
            lines.append(
                Line(
                    status="unknown_rule",
                    points=0,
                    nominal_points=0,
                    explanation_zh=f"规则{entry.rule_id}不在信用评价规则{policy.version}中，不计分"
                    if rule is None
                    else f"信用评价规则{policy.version}的“{rule.title_zh}”不适用于该类主体，不计分",
                    **common,  # type: ignore[arg-type]
                )
            )
            continue
        until = rule.counts_until(entry.effective_from)
        described = {
            **common,
            "title_zh": rule.title_zh,
            "legal_basis": entry.legal_basis or rule.legal_basis,
            "counts_until": until,
        }
        status: LineStatus
        points = 0
        if entry.effective_from > as_of:
            status, note = "not_yet_effective", f"自{_fmt(entry.effective_from)}起计分"
        elif entry.repaired_at is not None and entry.repaired_at <= as_of:
            status, note = "repaired", f"已于{_fmt(entry.repaired_at)}完成信用修复，不再计分"
        elif until is not None and until <= as_of:
            status, note = "expired", f"计分期已于{_fmt(until)}届满"
        else:
            status, note = "counting", f"计分至{_fmt(until)}"
            points = rule.points
            if rule.cap_points is not None:
                room = max(rule.cap_points - used.get(entry.rule_id, 0), 0)
                if abs(points) > room:
                    points = room if points > 0 else -room
                    status, note = "capped", f"本项累计上限{rule.cap_points}分，仅计{points}分；计分至{_fmt(until)}"
                used[entry.rule_id] = used.get(entry.rule_id, 0) + abs(points)
            forced = forced or rule.forces_lowest_grade
            for list_name in rule.lists:
                end, causes, reasons = lists.get(list_name, (until, [], []))
                if end is not None and (until is None or until > end):
                    end = until
                lists[list_name] = (
                    end if until is not None else None,
                    [*causes, entry.entry_id],
                    [*reasons, rule.title_zh],
                )
        lines.append(
            Line(
                status=status,
                points=points,
                nominal_points=rule.points,
                explanation_zh=f"{rule.title_zh}（{'+' if rule.points > 0 else ''}{rule.points}分）：{note}",
                **described,  # type: ignore[arg-type]
            )
        )
    total = sum(line.points for line in lines)
    if total < policy.min_score:
        lines.append(
            Line(
                status="floor",
                points=policy.min_score - total,
                nominal_points=0,
                explanation_zh=f"信用分不低于{policy.min_score}分",
            )
        )
        total = policy.min_score
    grade = policy.lowest_grade if forced else policy.grade_for(total)
    return Evaluation(
        policy_version=policy.version,
        as_of=as_of,
        score=total,
        grade=grade,
        forced_lowest_grade=forced,
        lines=tuple(lines),
        lists={
            name: ListStatus(until=end, cause_entry_ids=tuple(causes), reason_zh="；".join(dict.fromkeys(reasons)))
            for name, (end, causes, reasons) in lists.items()
        },
    )
