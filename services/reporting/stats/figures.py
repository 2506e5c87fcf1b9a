"""The statistics as pure functions of projected facts (no I/O): every definition in
docs/statistics.md is implemented here, once, and unit-tested without a database.

Targets: the annex slot targets per district and year come from ``shared/reference_data/
gz_districts.csv`` (``shared.reference``); the plan's other targets from ``plan_targets.csv`` next
to this module. Neither is written in code.
"""

from __future__ import annotations

import csv
import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from services.reporting.stats.schemas import (
    AnnualReportsOut,
    ComplaintsOut,
    FilingDecisionsOut,
    OperatingModelOut,
    StaffOut,
    UnlicensedCasesOut,
)
from shared.events.filing import OPERATING_MODEL_ZH
from shared.grades import GRADES
from shared.reference import District, districts, streets
from shared.workdays import CHINA

CITY_CODE = "440100"
CITY_NAME = "广州市"
SEVERITIES = ("minor", "general", "serious", "critical")
ROLES = ("principal", "carer", "health", "security", "cook", "other")
# StaffHiredV1 carries certificates but no training records: a certificate whose kind names a
# training (e.g. 托育机构负责人岗位培训合格证, 托幼机构卫生保健人员培训合格证) is the evidence of training.
TRAINING_MARKER = "培训"
TARGETS_FILE = Path(__file__).resolve().parent / "plan_targets.csv"
# The annex's baseline is the slots existing in December 2022: what was filed on the platform from
# 2023 on counts as "new" (新增), including institutions founded earlier and filed later.
PLAN_START = 2023
PLAN_END = 2025
COMPLAINT_CATEGORIES = ("safety", "abuse", "hygiene_food", "staffing", "fees", "unlicensed", "other")
TRIAGE_ACTIONS = ("targeted_inspection", "referral", "close", "open_unlicensed_case")


def ratio(numerator: int, denominator: int) -> float | None:
    """Rounded to 4 decimals; None when there is nothing to divide by."""
    return round(numerator / denominator, 4) if denominator else None


def beijing_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def start_of_year(year: int) -> datetime:
    return beijing_midnight(date(year, 1, 1))


def end_of_year(year: int) -> datetime:
    """The first instant of ``year + 1`` in Beijing: "by the end of Y" means strictly before it."""
    return beijing_midnight(date(year + 1, 1, 1))


def as_of_date(year: int, today: date) -> date:
    """The day staff and certificates are looked at: 31 December of ``year``, or today in the
    current year (a snapshot cannot look into the future)."""
    return min(date(year, 12, 31), today)


# --- targets -------------------------------------------------------------------------------------


@functools.cache
def plan_targets(path: Path = TARGETS_FILE) -> dict[tuple[str, int], float]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {(row["metric"], int(row["year"])): float(row["target"]) for row in csv.DictReader(fh)}


def plan_target(metric: str, year: int) -> float | None:
    return plan_targets().get((metric, year))


def slot_target(district: District, year: int) -> int | None:
    """The annex target of filed slots for ``year`` (2023–2025), None for other years."""
    return {2023: district.target_2023, 2024: district.target_2024, 2025: district.target_2025}.get(year)


def residents(district: District) -> int:
    """The annex's 2023 resident population: every year's slots per 1,000 divide by it."""
    return round(district.population_10k * 10_000)


# --- staff ---------------------------------------------------------------------------------------


def active_on(hired_on: date | None, left_on: date | None, day: date) -> bool:
    """Employed on ``day``: hired on or before it and not yet left (``left_on`` is the first day
    no longer employed). A placeholder without a hire date (left before the hire arrived) is not."""
    return hired_on is not None and hired_on <= day and (left_on is None or left_on > day)


def _expiry(cert: Mapping[str, Any]) -> date | None:
    value = cert.get("expires_on")
    return date.fromisoformat(value) if isinstance(value, str) else value if isinstance(value, date) else None


def certified_on(certificates: Iterable[Mapping[str, Any]], day: date) -> bool:
    """At least one certificate valid on ``day`` (no expiry date, or expiring on or after it)."""
    return any((exp := _expiry(c)) is None or exp >= day for c in certificates)


def trained(certificates: Iterable[Mapping[str, Any]], training_hours: float = 0.0) -> bool:
    """Recorded training hours at hire, or a training certificate (培训合格证)."""
    return training_hours > 0 or any(TRAINING_MARKER in str(c.get("kind", "")) for c in certificates)


# --- the facts the statistics are computed from ---------------------------------------------------


@dataclass(frozen=True)
class FiledInstitution:
    """An institution filed at the cutoff, with the profile version in force then."""

    institution_id: uuid.UUID
    district_code: str
    street_code: str
    operating_model: str
    total_slots: int
    puhui_slots: int
    filed_at: datetime | None = None
    classes: int = 0  # classes (班) of the profile in force


@dataclass(frozen=True)
class StaffFact:
    institution_id: uuid.UUID
    role: str | None
    hired_on: date | None
    left_on: date | None
    certificates: Sequence[Mapping[str, Any]]
    training_hours: float = 0.0


@dataclass(frozen=True)
class ReportFact:
    institution_id: uuid.UUID
    submitted: bool
    on_time: bool | None
    overdue_marked: bool


@dataclass(frozen=True)
class ViolationFact:
    district_code: str | None
    severity: str


@dataclass(frozen=True)
class QualityFact:
    """An institution's newest on-site quality assessment: the district it names and its grade."""

    district_code: str
    grade: str


@dataclass(frozen=True)
class DecisionFact:
    district_code: str | None
    outcome: str  # filed | returned | rejected


@dataclass(frozen=True)
class ComplaintFact:
    district_code: str
    category: str | None  # None until the receipt is projected
    received_at: datetime | None
    triaged_at: datetime | None
    action: str | None


@dataclass(frozen=True)
class CaseFact:
    district_code: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None  # filed | closed_down once closed


# --- district figures ----------------------------------------------------------------------------


@dataclass
class QualityFigures:
    filed_institutions: int = 0
    assessed: int = 0
    share: float | None = None
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))


DECISIONS = ("filed", "returned", "rejected")


@dataclass
class DistrictFigures:
    """One district's (or the city's) figures. The groups the answer shows as they are (annual
    reports, staff, filing decisions, unlicensed cases, operating models, complaints) are the
    answer's own models (``schemas``), counted into in place: a figure is added in one class."""

    code: str
    name: str
    residents: int
    institutions: int = 0
    slots: int = 0
    slot_target: int | None = None
    slot_progress: float | None = None
    slots_2022: int = 0
    slots_planned_2025: int = 0
    slot_gap: int | None = None
    slots_to_add_2025: int = 0
    slots_per_1000: float | None = None
    slots_per_1000_target: float | None = None
    puhui_slots: int = 0
    puhui_share: float | None = None
    puhui_share_target: float | None = None
    annual_reports: AnnualReportsOut = field(default_factory=lambda: AnnualReportsOut(report_year=0))
    staff: StaffOut = field(default_factory=lambda: StaffOut(by_role=dict.fromkeys(ROLES, 0)))
    inspected: int = 0
    inspection_coverage: float | None = None
    violations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    violations_total: int = 0
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*GRADES, "ungraded"), 0))
    quality: QualityFigures = field(default_factory=QualityFigures)
    filing_decisions: FilingDecisionsOut = field(default_factory=FilingDecisionsOut)
    unlicensed: UnlicensedCasesOut = field(default_factory=UnlicensedCasesOut)
    models: dict[str, OperatingModelOut] = field(
        default_factory=lambda: {m: OperatingModelOut(model=m, label=label) for m, label in OPERATING_MODEL_ZH.items()}
    )
    complaints: ComplaintsOut = field(
        default_factory=lambda: ComplaintsOut(
            by_category=dict.fromkeys(COMPLAINT_CATEGORIES, 0), by_action=dict.fromkeys(TRIAGE_ACTIONS, 0)
        )
    )


@dataclass
class DistrictStats:
    year: int
    as_of: date
    report_year: int
    districts: list[DistrictFigures]
    city: DistrictFigures


def _finish(fig: DistrictFigures, year: int, *, city: bool) -> None:
    fig.slot_progress = ratio(fig.slots, fig.slot_target) if fig.slot_target else None
    # what is still missing (never negative: a district past its target has no gap)
    fig.slot_gap = max(fig.slot_target - fig.slots, 0) if fig.slot_target is not None else None
    fig.slots_to_add_2025 = max(fig.slots_planned_2025 - fig.slots, 0)
    fig.slots_per_1000 = round(fig.slots * 1000 / fig.residents, 4) if fig.residents else None
    fig.puhui_share = ratio(fig.puhui_slots, fig.slots)
    # the plan's 千人口托位 (4.0/5.0/5.8) and 普惠 ≥30% are city-wide (全市) targets, not split by
    # district: a district is measured only against its annex slot target
    fig.slots_per_1000_target = plan_target("slots_per_1000", year) if city else None
    fig.puhui_share_target = plan_target("puhui_share", year) if city else None
    ar = fig.annual_reports
    ar.completion_rate = ratio(ar.submitted, ar.expected)
    ar.on_time_rate = ratio(ar.on_time, ar.expected)
    ar.target = plan_target("annual_report_completion", year)
    fig.staff.certified_rate = ratio(fig.staff.certified, fig.staff.active)
    fig.staff.training_rate = ratio(fig.staff.trained, fig.staff.active)
    fig.inspection_coverage = ratio(fig.inspected, fig.institutions)
    fig.violations_total = sum(fig.violations.values())
    fig.quality.filed_institutions = fig.institutions
    fig.quality.share = ratio(fig.quality.assessed, fig.institutions)
    fd = fig.filing_decisions
    fd.total = fd.filed + fd.returned + fd.rejected
    fd.pass_rate = ratio(fd.filed, fd.total)
    employer, kindergarten = fig.models["employer"], fig.models["kindergarten_class"]
    scope = "" if city else "_per_district"
    employer.added_institutions_target = plan_target(f"employer_institutions_added{scope}", year)
    employer.added_slots_target = plan_target(f"employer_slots_added{scope}", year)
    kindergarten.slots_target = plan_target(f"kindergarten_class_slots{scope}", year)
    kindergarten.classes_target = plan_target(f"kindergarten_classes{scope}", year)


def _into(figs: Mapping[str, DistrictFigures], code: str | None, city: DistrictFigures) -> list[DistrictFigures]:
    """The figures a fact counts in: its district's (if known) and the city's."""
    own = figs.get(code) if code is not None else None
    return [city] if own is None else [own, city]


def district_stats(
    *,
    year: int,
    today: date,
    filed: Sequence[FiledInstitution],
    staff: Sequence[StaffFact],
    report_expected: Sequence[FiledInstitution],
    reports: Mapping[uuid.UUID, ReportFact],
    inspected: set[uuid.UUID],
    violations: Sequence[ViolationFact],
    grades: Mapping[uuid.UUID, str],
    assessments: Mapping[uuid.UUID, QualityFact] | None = None,
    decisions: Sequence[DecisionFact] = (),
    cases: Sequence[CaseFact] = (),
    complaints: Sequence[ComplaintFact] = (),
) -> DistrictStats:
    """Every district (zeros included) and the city, for ``year``. ``filed``: institutions filed
    at the end of ``year``; ``report_expected``: those owing a report for ``year - 1``; ``staff``:
    staff rows of the filed institutions; ``inspected``: institutions with a published inspection
    in ``year``; ``violations``: confirmed in ``year``; ``grades``: grade in force at the end;
    ``assessments``: newest on-site quality assessment before the end; ``decisions``: filing
    decisions made in ``year``; ``cases``: unlicensed-operator cases opened before the end;
    ``complaints``: received or triaged before the end.

    The annual reports are those **of** ``year`` (年报 of Y, filed by the due day in Y+1):
    ``report_expected`` are the institutions owing one."""
    day = as_of_date(year, today)
    report_year = year
    refs = districts()
    figs = {
        code: DistrictFigures(
            code=code,
            name=d.name,
            residents=residents(d),
            slot_target=slot_target(d, year),
            slots_2022=d.slots_2022,
            slots_planned_2025=d.slots_planned_2025,
        )
        for code, d in refs.items()
    }
    for fig in figs.values():
        fig.annual_reports = AnnualReportsOut(report_year=report_year)
    targets = [f.slot_target for f in figs.values()]
    city = DistrictFigures(
        code=CITY_CODE,
        name=CITY_NAME,
        residents=sum(f.residents for f in figs.values()),
        slot_target=None if None in targets else sum(t or 0 for t in targets),
        slots_2022=sum(f.slots_2022 for f in figs.values()),
        slots_planned_2025=sum(f.slots_planned_2025 for f in figs.values()),
        annual_reports=AnnualReportsOut(report_year=report_year),
    )
    plan_start = start_of_year(PLAN_START)

    district_of: dict[uuid.UUID, str] = {}
    for inst in filed:
        district_of[inst.institution_id] = inst.district_code
        for fig in _into(figs, inst.district_code, city):
            fig.institutions += 1
            fig.slots += inst.total_slots
            fig.puhui_slots += inst.puhui_slots
            fig.inspected += inst.institution_id in inspected
            fig.grades[grades.get(inst.institution_id, "ungraded")] += 1
            model = fig.models.get(inst.operating_model)
            if model is not None:
                model.institutions += 1
                model.slots += inst.total_slots
                model.puhui_slots += inst.puhui_slots
                model.classes += inst.classes
                # 新增 is read as "filed from 2023 on": the nearest the platform records (no founding
                # date), so an institution opened before 2023 and filed later counts too (an over-count)
                if inst.filed_at is not None and inst.filed_at >= plan_start:
                    model.added_institutions += 1
                    model.added_slots += inst.total_slots

    for person in staff:
        code = district_of.get(person.institution_id)
        if code is None or not active_on(person.hired_on, person.left_on, day):
            continue
        # tested once per person, and a count written only when it grows: the figures are
        # pydantic models, whose attribute writes cost more than a plain object's
        is_certified = certified_on(person.certificates, day)
        is_trained = trained(person.certificates, person.training_hours)
        for fig in _into(figs, code, city):
            fig.staff.active += 1
            if is_certified:
                fig.staff.certified += 1
            if is_trained:
                fig.staff.trained += 1
            if person.role in fig.staff.by_role:
                fig.staff.by_role[person.role] += 1

    for inst in report_expected:
        report = reports.get(inst.institution_id)
        for fig in _into(figs, inst.district_code, city):
            ar = fig.annual_reports
            ar.expected += 1
            if report is not None and report.submitted:
                ar.submitted += 1
                if report.on_time:
                    ar.on_time += 1
                else:
                    ar.late += 1
            elif report is not None and report.overdue_marked:
                ar.overdue += 1

    for violation in violations:
        if violation.severity not in SEVERITIES:
            continue
        for fig in _into(figs, violation.district_code, city):
            fig.violations[violation.severity] += 1

    # an assessed institution counts in the district its assessment names (the assessing bureau's)
    for inst in filed:
        assessment = (assessments or {}).get(inst.institution_id)
        if assessment is None or assessment.grade not in GRADES:
            continue
        for fig in _into(figs, assessment.district_code, city):
            fig.quality.assessed += 1
            fig.quality.grades[assessment.grade] += 1

    for decision in decisions:
        if decision.outcome not in DECISIONS:
            continue
        for fig in _into(figs, decision.district_code, city):
            fd = fig.filing_decisions
            setattr(fd, decision.outcome, getattr(fd, decision.outcome) + 1)

    start, end = start_of_year(year), end_of_year(year)
    for case in cases:
        closed_in_year = case.closed_at is not None and start <= case.closed_at < end
        opened_in_year = start <= case.opened_at < end
        open_at_end = case.opened_at < end and (case.closed_at is None or case.closed_at >= end)
        for fig in _into(figs, case.district_code, city):
            u = fig.unlicensed
            if opened_in_year:
                u.opened += 1
            if open_at_end:
                u.open += 1
            if closed_in_year and case.outcome == "filed":
                u.closed_filed += 1
            if closed_in_year and case.outcome == "closed_down":
                u.closed_down += 1

    for complaint in complaints:
        received = complaint.received_at
        received_in_year = received is not None and start <= received < end
        triaged_in_year = complaint.triaged_at is not None and start <= complaint.triaged_at < end
        untriaged_at_end = (
            received is not None and received < end and (complaint.triaged_at is None or complaint.triaged_at >= end)
        )
        for fig in _into(figs, complaint.district_code, city):
            c = fig.complaints
            if received_in_year:
                c.received += 1
                if complaint.category in c.by_category:
                    c.by_category[complaint.category] += 1
            if triaged_in_year:
                c.triaged += 1
                if complaint.action in c.by_action:
                    c.by_action[complaint.action] += 1
            if untriaged_at_end:
                c.untriaged += 1

    for fig in figs.values():
        _finish(fig, year, city=False)
    _finish(city, year, city=True)
    return DistrictStats(year=year, as_of=day, report_year=report_year, districts=list(figs.values()), city=city)


# --- progress by year ------------------------------------------------------------------------------


@dataclass
class ProgressStats:
    """The slot figures of every year from the plan's first (2023) to ``last_year``, from the
    same definition as :func:`district_stats` (each year's own filed institutions and targets)."""

    years: list[DistrictStats]


def progress(filed_by_year: Mapping[int, Sequence[FiledInstitution]], today: date) -> ProgressStats:
    return ProgressStats(
        years=[
            district_stats(
                year=year,
                today=today,
                filed=filed,
                staff=(),
                report_expected=(),
                reports={},
                inspected=set(),
                violations=(),
                grades={},
            )
            for year, filed in sorted(filed_by_year.items())
        ]
    )


# --- street coverage ------------------------------------------------------------------------------


@dataclass
class StreetCoverage:
    code: str
    name: str
    streets: int = 0
    covered: int = 0
    share: float | None = None
    public_private_covered: int = 0
    public_private_share: float | None = None


@dataclass(frozen=True)
class UncoveredStreet:
    code: str
    name: str
    district_code: str
    district_name: str


@dataclass
class StreetStats:
    year: int
    target: float | None
    public_private_target: float | None
    districts: list[StreetCoverage]
    city: StreetCoverage
    uncovered: list[UncoveredStreet]


def is_puhui(inst: FiledInstitution) -> bool:
    return inst.puhui_slots > 0


def street_stats(year: int, filed: Sequence[FiledInstitution]) -> StreetStats:
    """A street/town is covered when at least one institution filed there at the end of ``year``
    offers 普惠 slots; ``public_private`` additionally requires the 公建民营 operating model."""
    covered = {i.street_code for i in filed if is_puhui(i)}
    covered_pp = {i.street_code for i in filed if is_puhui(i) and i.operating_model == "public_private"}
    refs = districts()
    per = {code: StreetCoverage(code=code, name=d.name) for code, d in refs.items()}
    city = StreetCoverage(code=CITY_CODE, name=CITY_NAME)
    uncovered: list[UncoveredStreet] = []
    for street in sorted(streets().values(), key=lambda s: s.code):
        fig = per[street.district_code]
        for f in (fig, city):
            f.streets += 1
            f.covered += street.code in covered
            f.public_private_covered += street.code in covered_pp
        if street.code not in covered:
            uncovered.append(UncoveredStreet(street.code, street.name, street.district_code, fig.name))
    for f in (*per.values(), city):
        f.share = ratio(f.covered, f.streets)
        f.public_private_share = ratio(f.public_private_covered, f.streets)
    return StreetStats(
        year=year,
        target=plan_target("street_puhui_coverage", year),
        public_private_target=plan_target("street_public_private_coverage", year),
        districts=list(per.values()),
        city=city,
        uncovered=uncovered,
    )


# --- filing status ---------------------------------------------------------------------------------


def filing_status(
    *,
    last_submitted_at: datetime | None,
    returned_at: datetime | None,
    rejected_at: datetime | None,
    filed_at: datetime | None,
    deregistered_at: datetime | None,
) -> str:
    """The filing status from the lifecycle times, whatever order their events arrived in."""
    if deregistered_at is not None:
        return "deregistered"
    if filed_at is not None:
        return "filed"
    decisions = [(t, s) for t, s in ((rejected_at, "rejected"), (returned_at, "returned")) if t is not None]
    if decisions:
        when, status = max(decisions, key=lambda d: d[0])
        if last_submitted_at is None or when >= last_submitted_at:
            return status
    return "submitted" if last_submitted_at is not None else "unknown"


def report_due_midnight(report_year: int, month: int, day: int) -> datetime:
    """Beijing midnight starting the due day of ``report_year``'s report (in ``report_year + 1``);
    a day past the month's end falls back to its last day, as in the filing service."""
    first = date(report_year + 1, month, 1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    last_day = (following - timedelta(days=1)).day
    return beijing_midnight(date(report_year + 1, month, min(day, last_day)))
