"""What each domain event credit consumes means for credit records, as data: which records it opens
(or folds into), which entries it appends, which institution it marks deregistered, which subjects it
re-grades. Pure — no session, no outbox — so the live consumer (``consumers.py`` applies the facts
through the records service, in this order) and the bulk rebuild (``rebuild.py`` folds them into rows
in memory) share one copy of the rules.

Every function raises before returning anything when an event cannot be understood (e.g. an unknown
severity), so a caller applies all of an event's facts or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from services.credit.env import BEIJING, CreditEnv, beijing_midnight
from services.credit.policy.documents import (
    CHILD_ABUSE_RULE,
    CLEAN_INSPECTION_RULE,
    PERSON_CHILD_ABUSE_RULE,
    QUALITY_EXCELLENT_RULE,
    QUALITY_FAILED_RULE,
    RECTIFIED_RULE,
    REPORT_ON_TIME_RULE,
    REPORT_OVERDUE_RULE,
    UNRECTIFIED_RULE,
    VIOLATION_RULES,
)
from services.credit.records.service import Source
from shared.events import DecodedEvent, EventData
from shared.events.filing import (
    AnnualReportOverdueV1,
    AnnualReportSubmittedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionSubmittedV1,
    StaffHiredV1,
)
from shared.events.inspection import (
    InspectionResultPublishedV1,
    QualityAssessedV1,
    ViolationClosedV1,
    ViolationConfirmedV1,
    ViolationEscalatedV1,
)

SEVERITY_ZH = {"minor": "轻微", "general": "一般", "serious": "严重", "critical": "特别严重"}


@dataclass(frozen=True)
class OpenRecord:
    """Open the subject's record, or fold this event into it (earliest opening, newest profile)."""

    kind: str
    subject_id: str
    at: datetime
    source: Source
    display_name: str | None = None
    district_code: str | None = None


@dataclass(frozen=True)
class RecordEntry:
    """Append an entry once per (subject, rule, source fact)."""

    kind: str
    subject_id: str
    rule_id: str
    source_key: str
    source: Source
    effective_from: datetime
    detail_zh: str
    legal_basis: str | None = None

    def entry_fields(self) -> dict[str, Any]:
        """The entry's fields by name, as the live (``record_entry``) and the bulk (``new_entry``)
        paths take them (``dataclasses.asdict`` would turn the source into a dict)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class MarkDeregistered:
    """The institution's record keeps its entries; only the (earliest) date is kept."""

    institution_id: str
    at: datetime


@dataclass(frozen=True)
class Regrade:
    """Re-evaluate the subject from its facts (once per consumed batch in the live path)."""

    kind: str
    subject_id: str


Fact = OpenRecord | RecordEntry | MarkDeregistered | Regrade


def _src(event: DecodedEvent) -> Source:
    return Source(event_id=event.envelope.id, event_type=event.envelope.type)


def _institution(event: DecodedEvent, institution_id: str, at: datetime) -> list[Fact]:
    """An event that scores nothing still opens the record (and so sets a first grade)."""
    return [OpenRecord("institution", institution_id, at, _src(event)), Regrade("institution", institution_id)]


def _entry_for_institution(
    event: DecodedEvent,
    institution_id: str,
    *,
    rule_id: str,
    source_key: str,
    effective_from: datetime,
    detail_zh: str,
    legal_basis: str | None = None,
) -> list[Fact]:
    return [
        OpenRecord("institution", institution_id, effective_from, _src(event)),
        RecordEntry(
            "institution", institution_id, rule_id, source_key, _src(event), effective_from, detail_zh, legal_basis
        ),
        Regrade("institution", institution_id),
    ]


def _submitted(data: InstitutionSubmittedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    return [
        OpenRecord("institution", iid, data.submitted_at, _src(event), data.name, data.district_code),
        Regrade("institution", iid),
    ]


def _filed(data: InstitutionFiledV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    profile = data.profile
    return [
        OpenRecord("institution", iid, data.decided_at, _src(event), profile.name, profile.district_code),
        Regrade("institution", iid),
    ]


def _deregistered(data: InstitutionDeregisteredV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    # The record and its entries stay (诚信档案 outlive the institution); only the date is kept.
    return [
        OpenRecord("institution", iid, data.deregistered_at, _src(event)),
        MarkDeregistered(iid, data.deregistered_at),
        Regrade("institution", iid),
    ]


def _staff_hired(data: StaffHiredV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    # A person's record carries only the keyed reference, never a name or ID number.
    return [OpenRecord("person", data.person_ref, event.envelope.time, _src(event)), Regrade("person", data.person_ref)]


def _report_submitted(data: AnnualReportSubmittedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    if not data.on_time:  # a late report scores nothing (the overdue entry already counts)
        return _institution(event, iid, data.submitted_at)
    return _entry_for_institution(
        event,
        iid,
        rule_id=REPORT_ON_TIME_RULE,
        source_key=f"annual_report:{data.year}",
        effective_from=data.submitted_at,
        detail_zh=f"{data.year}年度报告按期报送",
    )


def _report_overdue(data: AnnualReportOverdueV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    # Counts from the day after the due date (Beijing), whenever the sweep noticed it.
    effective = beijing_midnight(data.due_date) + timedelta(days=1)
    return _entry_for_institution(
        event,
        str(data.institution_id),
        rule_id=REPORT_OVERDUE_RULE,
        source_key=f"annual_report:{data.year}",
        effective_from=effective,
        detail_zh=f"{data.year}年度报告逾期未报送（应于{data.due_date.isoformat()}前报送）",
    )


def _violation_confirmed(data: ViolationConfirmedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    key = f"violation:{data.violation_id}"
    detail = f"{data.title_zh}（{data.code}，{SEVERITY_ZH[data.severity]}）：{data.description}"
    rule_id = CHILD_ABUSE_RULE if data.child_abuse else VIOLATION_RULES[data.severity]
    # The violation's own article; the child-abuse rule's basis (zero tolerance) is in the policy.
    basis = None if data.child_abuse else data.legal_basis
    facts: list[Fact] = [
        OpenRecord("institution", iid, data.confirmed_at, _src(event)),
        RecordEntry("institution", iid, rule_id, key, _src(event), data.confirmed_at, detail, basis),
        Regrade("institution", iid),
    ]
    if data.person_ref is None:
        return facts
    person_rule = PERSON_CHILD_ABUSE_RULE if data.child_abuse else rule_id
    return [
        *facts,
        OpenRecord("person", data.person_ref, data.confirmed_at, _src(event)),
        RecordEntry(
            "person",
            data.person_ref,
            person_rule,
            key,
            _src(event),
            data.confirmed_at,
            f"{detail}（涉事机构 {iid}）",
            basis,
        ),
        Regrade("person", data.person_ref),
    ]


def _violation_escalated(data: ViolationEscalatedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    return _entry_for_institution(
        event,
        str(data.institution_id),
        rule_id=UNRECTIFIED_RULE,
        source_key=f"violation:{data.violation_id}",
        effective_from=data.escalated_at,
        detail_zh=f"违法违规行为（{SEVERITY_ZH[data.severity]}）逾期未整改，整改期限{data.rectification_due.isoformat()}",
    )


def _violation_closed(data: ViolationClosedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    return _entry_for_institution(
        event,
        str(data.institution_id),
        rule_id=RECTIFIED_RULE,
        source_key=f"violation:{data.violation_id}",
        effective_from=data.closed_at,
        detail_zh=f"违法违规行为{data.violation_id}经复查整改到位",
    )


def _result_published(data: InspectionResultPublishedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    if data.conclusion != "compliant" or data.violation_count != 0:
        return _institution(event, iid, data.published_at)  # violations count through ViolationConfirmedV1
    return _entry_for_institution(
        event,
        iid,
        rule_id=CLEAN_INSPECTION_RULE,
        source_key=f"inspection:{data.task_id}",
        effective_from=data.published_at,
        detail_zh=f"检查未发现问题（{data.inspected_at.astimezone(BEIJING).date().isoformat()}）：{data.summary_zh}",
    )


def _quality_assessed(data: QualityAssessedV1, event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    iid = str(data.institution_id)
    # Only an on-site assessment scores (a self-assessment is the institution's own claim); a
    # failed one (veto item unmet, or the lowest grade) counts against, an A for; B/C score nothing.
    rule_id: str | None = None
    if data.kind == "onsite":
        if data.veto_failed or data.grade == "D":
            rule_id = QUALITY_FAILED_RULE
        elif data.grade == "A":
            rule_id = QUALITY_EXCELLENT_RULE
    if rule_id is None or not all(rule_id in p.rules for v in env.registry.versions() if (p := env.registry.get(v))):
        return _institution(event, iid, data.assessed_at)
    veto = f"，否决项未达标：{'、'.join(data.veto_failed_items)}" if data.veto_failed else ""
    return _entry_for_institution(
        event,
        iid,
        rule_id=rule_id,
        source_key=f"quality:{data.assessment_id}",
        effective_from=data.assessed_at,
        detail_zh=f"质量现场评估（{data.scheme_version}）：{data.score:g}/{data.max_score:g}分，等级{data.grade}{veto}",
    )


FactsOf = Callable[[Any, DecodedEvent, CreditEnv], list[Fact]]

# Event class → its facts. The classes credit takes from the filing and inspection topics.
DOMAIN_FACTS: dict[type[EventData], FactsOf] = {
    InstitutionSubmittedV1: _submitted,
    InstitutionFiledV1: _filed,
    InstitutionDeregisteredV1: _deregistered,
    StaffHiredV1: _staff_hired,
    AnnualReportSubmittedV1: _report_submitted,
    AnnualReportOverdueV1: _report_overdue,
    ViolationConfirmedV1: _violation_confirmed,
    ViolationEscalatedV1: _violation_escalated,
    ViolationClosedV1: _violation_closed,
    InspectionResultPublishedV1: _result_published,
    QualityAssessedV1: _quality_assessed,
}


def facts_of(event: DecodedEvent, env: CreditEnv) -> list[Fact]:
    """The facts of one domain event, in the order the live handler applies them."""
    return DOMAIN_FACTS[type(event.data)](event.data, event, env)
