"""The statistics' definitions as pure functions (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.reporting.stats import figures
from services.reporting.stats.figures import (
    CaseFact,
    ComplaintFact,
    DecisionFact,
    FiledInstitution,
    QualityFact,
    ReportFact,
    StaffFact,
    ViolationFact,
)
from shared.reference import districts


def test_targets_come_from_the_data_files() -> None:
    tianhe = districts()["440106"]
    assert [figures.slot_target(tianhe, y) for y in (2022, 2023, 2024, 2025, 2026)] == [None, 8320, 13960, 17060, None]
    assert figures.plan_target("slots_per_1000", 2025) == 5.8
    assert figures.plan_target("puhui_share", 2024) is None
    assert figures.plan_target("puhui_share", 2025) == 0.3
    assert figures.residents(tianhe) == 2_238_000
    # the plan's 工作目标 for each year: 千人口托位 4.0 / 5.0 / 5.8
    assert [figures.plan_target("slots_per_1000", y) for y in (2022, 2023, 2024, 2025, 2026)] == [
        None, 4.0, 5.0, 5.8, None,
    ]  # fmt: skip
    # 用人单位办托: 11 / 55 / 110 in the city, at least 5 / 10 per district
    assert [figures.plan_target("employer_institutions_added", y) for y in (2023, 2024, 2025)] == [11, 55, 110]
    assert [figures.plan_target("employer_institutions_added_per_district", y) for y in (2023, 2024, 2025)] == [
        None, 5, 10,
    ]  # fmt: skip
    # the 100 % street target of 2025 is the 公建民营 one; 2023's 20 % is for any 普惠 institution
    assert figures.plan_target("street_public_private_coverage", 2025) == 1.0
    assert figures.plan_target("street_puhui_coverage", 2023) == 0.2


def test_staff_definitions() -> None:
    day = date(2024, 12, 31)
    assert figures.active_on(date(2024, 1, 1), None, day)
    assert figures.active_on(date(2024, 1, 1), date(2025, 1, 1), day)
    assert not figures.active_on(date(2024, 1, 1), day, day)  # left_on is the first day gone
    assert not figures.active_on(date(2025, 1, 1), None, day)
    assert not figures.active_on(None, date(2024, 5, 1), day)  # a departure whose hire never arrived
    assert figures.certified_on([{"kind": "保育师证", "expires_on": None}], day)
    assert figures.certified_on([{"kind": "保育师证", "expires_on": "2024-12-31"}], day)
    assert not figures.certified_on([{"kind": "保育师证", "expires_on": "2024-12-30"}], day)
    assert not figures.certified_on([], day)
    assert figures.trained([{"kind": "托育机构负责人岗位培训合格证"}])
    assert not figures.trained([{"kind": "保育师证"}])


def test_filing_status_does_not_depend_on_arrival_order() -> None:
    t = [datetime(2024, 1, d, tzinfo=UTC) for d in range(1, 6)]
    none = {"returned_at": None, "rejected_at": None, "filed_at": None, "deregistered_at": None}
    assert figures.filing_status(last_submitted_at=None, **none) == "unknown"
    assert figures.filing_status(last_submitted_at=t[0], **none) == "submitted"
    assert figures.filing_status(last_submitted_at=t[0], **{**none, "returned_at": t[1]}) == "returned"
    assert figures.filing_status(last_submitted_at=t[2], **{**none, "returned_at": t[1]}) == "submitted"  # resubmitted
    assert figures.filing_status(last_submitted_at=t[0], **{**none, "rejected_at": t[1]}) == "rejected"
    assert figures.filing_status(last_submitted_at=None, **{**none, "filed_at": t[1]}) == "filed"
    assert figures.filing_status(last_submitted_at=t[0], **{**none, "filed_at": t[1], "deregistered_at": t[3]}) == (
        "deregistered"
    )


def test_year_boundaries_are_beijing_time() -> None:
    assert figures.end_of_year(2024) == datetime(2024, 12, 31, 16, tzinfo=UTC)
    assert figures.as_of_date(2024, date(2026, 1, 1)) == date(2024, 12, 31)
    assert figures.as_of_date(2026, date(2026, 3, 1)) == date(2026, 3, 1)
    # a due day past the month's end falls back to its last day
    assert figures.report_due_midnight(2023, 2, 31) == datetime(2024, 2, 28, 16, tzinfo=UTC)  # 2024-02-29 Beijing
    assert figures.report_due_midnight(2024, 12, 31) == datetime(2025, 12, 30, 16, tzinfo=UTC)


def inst(n: int, district: str, street: str, total: int, puhui: int, model: str = "private") -> FiledInstitution:
    return FiledInstitution(uuid.UUID(int=n), district, street, model, total, puhui)


def test_district_figures_on_a_tiny_city() -> None:
    a, b = inst(1, "440117", "440117001", 30, 10), inst(2, "440117", "440117002", 10, 0)
    stats = figures.district_stats(
        year=2024,
        today=date(2026, 1, 1),
        filed=[a, b],
        staff=[
            StaffFact(a.institution_id, "carer", date(2024, 1, 1), None, [{"kind": "保育师证", "expires_on": None}]),
            StaffFact(b.institution_id, "cook", date(2024, 1, 1), None, []),
            StaffFact(uuid.UUID(int=99), "carer", date(2024, 1, 1), None, []),  # not a filed institution
        ],
        report_expected=[a],
        reports={a.institution_id: ReportFact(a.institution_id, True, False, True)},
        inspected={b.institution_id},
        violations=[ViolationFact("440117", "serious"), ViolationFact(None, "minor")],
        grades={a.institution_id: "A"},
    )
    conghua = next(d for d in stats.districts if d.code == "440117")
    assert (conghua.slots, conghua.puhui_slots, conghua.puhui_share) == (40, 10, 0.25)
    assert (conghua.slot_target, conghua.slot_progress) == (2460, 0.0163)
    assert (conghua.staff.active, conghua.staff.certified, conghua.staff.certified_rate) == (2, 1, 0.5)
    ar = conghua.annual_reports
    # the 年报 of the statistics' year (filed in the next year)
    assert (ar.report_year, ar.expected, ar.submitted, ar.late, ar.overdue, ar.completion_rate) == (
        2024,
        1,
        1,
        1,
        0,
        1.0,
    )
    assert (conghua.inspected, conghua.inspection_coverage) == (1, 0.5)
    assert conghua.grades == {"A": 1, "B": 0, "C": 0, "D": 0, "ungraded": 1}
    assert conghua.violations_total == 1
    # a violation of an institution whose district is unknown counts for the city only
    assert stats.city.violations == {"minor": 1, "general": 0, "serious": 1, "critical": 0}
    assert sum(d.slots for d in stats.districts) == stats.city.slots == 40


def test_street_coverage_counts_only_puhui_institutions() -> None:
    stats = figures.street_stats(
        2025,
        [
            inst(1, "440117", "440117001", 30, 10, "public_private"),
            inst(2, "440117", "440117002", 30, 0, "public_private"),
            inst(3, "440117", "440117001", 30, 5),
        ],
    )
    conghua = next(d for d in stats.districts if d.code == "440117")
    assert (conghua.streets, conghua.covered, conghua.share) == (10, 1, 0.1)
    assert conghua.public_private_covered == 1
    assert (stats.city.streets, stats.city.covered, len(stats.uncovered)) == (178, 1, 177)
    assert (stats.target, stats.public_private_target) == (1.0, 1.0)


def test_quality_decisions_and_unlicensed_cases() -> None:
    a, b = inst(1, "440117", "440117001", 30, 10), inst(2, "440117", "440117002", 10, 0)
    bj = figures.beijing_midnight
    stats = figures.district_stats(
        year=2024,
        today=date(2026, 1, 1),
        filed=[a, b],
        staff=[],
        report_expected=[],
        reports={},
        inspected=set(),
        violations=[],
        grades={},
        # uuid 3 is assessed but not filed: it counts nowhere
        assessments={a.institution_id: QualityFact("440117", "B"), uuid.UUID(int=3): QualityFact("440117", "A")},
        decisions=[
            DecisionFact("440117", "filed"),
            DecisionFact("440117", "returned"),
            DecisionFact("440117", "rejected"),
            DecisionFact(None, "filed"),  # district unknown: the city only
        ],
        cases=[
            CaseFact("440117", bj(date(2024, 3, 1)), None, None),  # opened, open
            CaseFact("440117", bj(date(2023, 3, 1)), bj(date(2024, 6, 1)), "filed"),
            CaseFact("440117", bj(date(2024, 3, 1)), bj(date(2024, 7, 1)), "closed_down"),
            CaseFact("440117", bj(date(2024, 3, 1)), bj(date(2025, 1, 1)), "filed"),  # still open at the end
        ],
    )
    conghua = next(d for d in stats.districts if d.code == "440117")
    q = conghua.quality
    assert (q.filed_institutions, q.assessed, q.share, q.grades) == (2, 1, 0.5, {"A": 0, "B": 1, "C": 0, "D": 0})
    fd = conghua.filing_decisions
    assert (fd.filed, fd.returned, fd.rejected, fd.total, fd.pass_rate) == (1, 1, 1, 3, 0.3333)
    assert (stats.city.filing_decisions.total, stats.city.filing_decisions.pass_rate) == (4, 0.5)
    u = conghua.unlicensed
    assert (u.opened, u.open, u.closed_filed, u.closed_down) == (3, 2, 1, 1)


def test_baseline_gap_and_operating_models() -> None:
    bj = figures.beijing_midnight
    old = FiledInstitution(uuid.UUID(int=1), "440117", "440117001", "employer", 30, 10, bj(date(2022, 6, 1)))
    new = FiledInstitution(uuid.UUID(int=2), "440117", "440117002", "employer", 20, 20, bj(date(2024, 6, 1)))
    kg = FiledInstitution(
        uuid.UUID(int=3), "440106", "440106001", "kindergarten_class", 50, 0, bj(date(2023, 1, 1)), classes=3
    )
    stats = figures.district_stats(
        year=2025,
        today=date(2026, 1, 1),
        filed=[old, new, kg],
        staff=[],
        report_expected=[],
        reports={},
        inspected=set(),
        violations=[],
        grades={},
    )
    conghua = next(d for d in stats.districts if d.code == "440117")
    # the annex: 从化 had 1,020 slots in 2022 and plans 3,070 for 2025
    assert (conghua.slots_2022, conghua.slots_planned_2025, conghua.slot_target) == (1020, 3070, 3070)
    assert (conghua.slot_gap, conghua.slots_to_add_2025) == (3070 - 50, 3070 - 50)
    assert (stats.city.slots_2022, stats.city.slots_planned_2025, stats.city.slot_target) == (60336, 121800, 121800)
    employer = conghua.models["employer"]
    # only the one filed from 2023 on is new (新增) against the 2022 baseline
    assert (employer.institutions, employer.slots, employer.added_institutions, employer.added_slots) == (2, 50, 1, 20)
    assert (employer.added_institutions_target, employer.added_slots_target) == (10, None)  # 每区至少10个
    city = stats.city.models
    assert (city["employer"].added_institutions_target, city["employer"].added_slots_target) == (110, 6600)
    assert (city["kindergarten_class"].slots, city["kindergarten_class"].added_institutions) == (50, 1)
    assert city["kindergarten_class"].slots_target == 20000
    # 幼儿园托班: the classes (班) against the plan's 1000
    assert (city["kindergarten_class"].classes, city["kindergarten_class"].classes_target) == (3, 1000)
    assert (city["employer"].classes, city["employer"].classes_target) == (0, None)
    assert [m.label for m in city.values()][:3] == ["公办", "公建民营", "民办"]
    # a district past its target has no gap, never a negative one
    stats_2023 = figures.district_stats(
        year=2023,
        today=date(2026, 1, 1),
        filed=[FiledInstitution(uuid.UUID(int=4), "440117", "440117001", "private", 5000, 0, bj(date(2023, 2, 1)))],
        staff=[],
        report_expected=[],
        reports={},
        inspected=set(),
        violations=[],
        grades={},
    )
    conghua_2023 = next(d for d in stats_2023.districts if d.code == "440117")
    assert (conghua_2023.slot_target, conghua_2023.slot_gap, conghua_2023.slots_to_add_2025) == (1335, 0, 0)
    # 千人口托位 and 普惠 share are the plan's city-wide targets: the city carries them, a district
    # only its annex slot target
    assert (conghua_2023.slots_per_1000_target, conghua_2023.puhui_share_target) == (None, None)
    assert stats_2023.city.slots_per_1000_target == 4.0
    assert (stats.city.slots_per_1000_target, stats.city.puhui_share_target) == (5.8, 0.3)
    assert all(d.slots_per_1000_target is None and d.puhui_share_target is None for d in stats.districts)


def test_complaints_by_year() -> None:
    bj = figures.beijing_midnight
    stats = figures.district_stats(
        year=2024,
        today=date(2026, 1, 1),
        filed=[],
        staff=[],
        report_expected=[],
        reports={},
        inspected=set(),
        violations=[],
        grades={},
        complaints=[
            ComplaintFact("440117", "safety", bj(date(2024, 2, 1)), bj(date(2024, 2, 3)), "targeted_inspection"),
            ComplaintFact("440117", "fees", bj(date(2024, 12, 30)), None, None),  # open at the end of the year
            ComplaintFact("440117", "unlicensed", bj(date(2024, 12, 31)), bj(date(2025, 1, 2)), "close"),  # open then
            ComplaintFact("440117", "abuse", bj(date(2023, 12, 30)), bj(date(2024, 1, 2)), "referral"),  # triaged in Y
            ComplaintFact("440106", None, None, bj(date(2024, 5, 1)), "close"),  # receipt not yet projected
        ],
    )
    conghua = next(d for d in stats.districts if d.code == "440117").complaints
    assert (conghua.received, conghua.triaged, conghua.untriaged) == (3, 2, 2)
    assert (conghua.by_category["safety"], conghua.by_category["fees"], conghua.by_category["abuse"]) == (1, 1, 0)
    assert (conghua.by_action["targeted_inspection"], conghua.by_action["referral"]) == (1, 1)
    city = stats.city.complaints
    assert (city.received, city.triaged, city.untriaged, city.by_action["close"]) == (3, 3, 2, 1)


def test_progress_is_each_years_own_figures() -> None:
    bj = figures.beijing_midnight
    a = FiledInstitution(uuid.UUID(int=1), "440117", "440117001", "private", 30, 10, bj(date(2023, 6, 1)))
    b = FiledInstitution(uuid.UUID(int=2), "440117", "440117002", "private", 20, 20, bj(date(2024, 6, 1)))
    stats = figures.progress({2023: [a], 2024: [a, b]}, date(2024, 8, 1))
    assert [y.year for y in stats.years] == [2023, 2024]
    assert [(y.city.slots, y.city.slot_target, y.city.slots_per_1000_target) for y in stats.years] == [
        (30, 70010, 4.0),
        (50, 103360, 5.0),
    ]
    assert [y.city.puhui_share for y in stats.years] == [0.3333, 0.6]
