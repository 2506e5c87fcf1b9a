"""Pure grade timeline: a subject's grade history and list stays as a function of its facts.

``build(entries, default, activations, repair_reasons, now)`` evaluates the subject at every instant
where something can change — an entry becomes effective, an entry's counting period ends (under any
policy version that was in force), an approved repair takes effect, a policy version is activated —
from its first entry up to ``now``. Between two such instants ``scoring.evaluate`` gives the same
result, so these points are the whole story.

History and list stays are therefore dated by when things happened (the facts' own timestamps), not by
when the service noticed: the result depends only on the set of facts and ``now``, never on the order
in which events arrived or on when the periodic re-evaluation ran. That is what lets a replay of the
topics into an empty database reproduce the live history row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.credit.evaluation.scoring import EntryInput, Evaluation, evaluate
from services.credit.policy.documents import ListName, Policy, policy_at
from shared.grades import Grade


@dataclass(frozen=True)
class HistoryPoint:
    graded_at: datetime
    policy_version: str
    grade: Grade
    previous_grade: Grade | None
    score: int
    reason: str


@dataclass(frozen=True)
class Stay:
    """One stay on a list; current while ``left_at`` is None."""

    list_name: ListName
    entered_at: datetime
    until: datetime | None
    cause_entry_ids: tuple[str, ...]
    reason: str
    legal_basis: str
    left_at: datetime | None = None
    left_reason: str | None = None


@dataclass(frozen=True)
class Timeline:
    current: Evaluation  # as of ``now``
    graded_at: datetime  # when the current grade was reached
    history: tuple[HistoryPoint, ...]
    stays: tuple[Stay, ...]  # by (entered_at, list_name)
    # when the current score under the current policy was reached, and what happened then (the key
    # and reason of InstitutionRescoredV1: a change of score inside one grade has no history row)
    scored_at: datetime
    scored_reason: str


def _policy_before(default: Policy, activations: Sequence[tuple[datetime, Policy]], moment: datetime) -> Policy:
    policy = default
    for activated_at, activated in activations:
        if activated_at >= moment:
            break
        policy = activated
    return policy


def _reason(
    moment: datetime,
    entries: Sequence[EntryInput],
    before: Policy,
    policy: Policy,
    repair_reasons: Mapping[str, str],
) -> str:
    """What happened at ``moment``, in words (the grade-history reason)."""
    parts: list[str] = []
    if before.version != policy.version:
        parts.append(f"信用评价规则变更：{before.version}→{policy.version}")
    for entry in entries:
        rule = policy.rules.get(entry.rule_id)
        title = rule.title_zh if rule is not None else entry.rule_id
        if entry.effective_from == moment:
            parts.append(entry.detail_zh or title)
        if entry.repaired_at == moment:
            parts.append(f"信用修复：{repair_reasons.get(entry.entry_id) or title}")
        repaired_before = entry.repaired_at is not None and entry.repaired_at < moment
        if rule is not None and rule.counts_until(entry.effective_from) == moment and not repaired_before:
            parts.append(f"{title}计分期届满")
    return "；".join(dict.fromkeys(parts)) or "重新评价"


def build(
    entries: Iterable[EntryInput],
    default: Policy,
    activations: Sequence[tuple[datetime, Policy]],
    repair_reasons: Mapping[str, str],
    now: datetime,
) -> Timeline | None:
    """The subject's timeline up to ``now``; None while it has no effective entry (未评级)."""
    ordered = sorted(entries, key=lambda e: (e.effective_from, e.entry_id))
    if not ordered or ordered[0].effective_from > now:
        return None
    start = ordered[0].effective_from
    versions = [default, *(p for _, p in activations)]
    moments = {e.effective_from for e in ordered} | {at for at, _ in activations}
    for entry in ordered:
        if entry.repaired_at is not None:
            moments.add(entry.repaired_at)
        for version in versions:
            rule = version.rules.get(entry.rule_id)
            until = rule.counts_until(entry.effective_from) if rule is not None else None
            if until is not None:
                moments.add(until)

    history: list[HistoryPoint] = []
    graded_at = start
    scored: tuple[float, str] | None = None
    scored_at = start
    open_stays: dict[ListName, Stay] = {}
    closed: list[Stay] = []
    for moment in sorted(m for m in moments if start <= m <= now):
        policy = policy_at(default, activations, moment)
        result = evaluate(ordered, policy, moment)
        last = history[-1] if history else None
        if scored != (float(result.score), policy.version):
            scored, scored_at = (float(result.score), policy.version), moment
        if last is None or result.grade != last.grade or policy.version != last.policy_version:
            before = _policy_before(default, activations, moment)
            history.append(
                HistoryPoint(
                    graded_at=moment,
                    policy_version=policy.version,
                    grade=result.grade,
                    previous_grade=last.grade if last is not None else None,
                    score=result.score,
                    reason=_reason(moment, ordered, before, policy, repair_reasons),
                )
            )
            if last is None or result.grade != last.grade:
                graded_at = moment
        for name, status in result.lists.items():
            stay = open_stays.get(name)
            if stay is not None:
                open_stays[name] = replace(stay, until=status.until)  # a later cause can extend the stay
            else:
                definition = policy.lists[name]
                open_stays[name] = Stay(
                    list_name=name,
                    entered_at=moment,
                    until=status.until,
                    cause_entry_ids=status.cause_entry_ids,
                    reason=status.reason_zh,
                    legal_basis=definition.legal_basis,
                )
        for name in [n for n in open_stays if n not in result.lists]:
            title = policy.lists[name].title_zh if name in policy.lists else name
            closed.append(replace(open_stays.pop(name), left_at=moment, left_reason=f"列入{title}的原因已届满或已修复"))
    stays = sorted([*closed, *open_stays.values()], key=lambda s: (s.entered_at, s.list_name))
    current = evaluate(ordered, policy_at(default, activations, now), now)
    scored_policy = policy_at(default, activations, scored_at)
    scored_before = _policy_before(default, activations, scored_at)
    scored_reason = _reason(scored_at, ordered, scored_before, scored_policy, repair_reasons)
    return Timeline(
        current=current,
        graded_at=graded_at,
        history=tuple(history),
        stays=tuple(stays),
        scored_at=scored_at,
        scored_reason=scored_reason,
    )
