"""Response bodies of the statistics and the institution summary (definitions: docs/statistics.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotsOut(_Out):
    value: int = Field(description="filed slots: institutions filed by the end of the year and not deregistered")
    target: int | None = Field(description="annex target of the year (2023–2025), else null")
    progress: float | None = Field(description="value / target")


class DensityOut(_Out):
    value: float | None = Field(description="slots per 1,000 residents (population_2023_10k × 10,000)")
    target: float | None
    residents: int


class PuhuiOut(_Out):
    slots: int
    share: float | None = Field(description="普惠 slots / slots")
    target: float | None = Field(description="minimum share")


class AnnualReportsOut(_Out):
    report_year: int = Field(description="the year reported on: year − 1 (those reports fall due in the year)")
    expected: int
    submitted: int
    on_time: int
    late: int
    overdue: int = Field(description="expected, marked overdue, not submitted")
    completion_rate: float | None = Field(description="submitted / expected")
    on_time_rate: float | None = Field(description="on_time / expected")
    target: float | None


class StaffOut(_Out):
    active: int
    by_role: dict[str, int]
    certified: int
    trained: int
    certified_rate: float | None = Field(description="certified / active")
    training_rate: float | None = Field(description="trained / active")


class InspectionsOut(_Out):
    filed_institutions: int
    inspected: int = Field(description="filed institutions with ≥1 published inspection held in the year")
    coverage: float | None = Field(description="inspected / filed_institutions")


class ViolationsOut(_Out):
    minor: int
    general: int
    serious: int
    critical: int
    total: int


class GradesOut(_Out):
    A: int
    B: int
    C: int
    D: int
    ungraded: int


class QualityGradesOut(_Out):
    A: int
    B: int
    C: int
    D: int


class QualityAssessmentOut(_Out):
    filed_institutions: int
    assessed: int = Field(
        description="filed institutions with an on-site quality assessment before the end of the year"
    )
    share: float | None = Field(description="assessed / filed_institutions")
    grades: QualityGradesOut = Field(description="grade of each assessed institution's newest on-site assessment")


class FilingDecisionsOut(_Out):
    filed: int
    returned: int
    rejected: int
    total: int = Field(description="filing decisions made in the year")
    pass_rate: float | None = Field(description="备案通过率: filed / total")


class UnlicensedCasesOut(_Out):
    opened: int = Field(description="unlicensed-operator cases opened in the year")
    open: int = Field(description="opened and not closed at the end of the year")
    closed_filed: int = Field(description="closed in the year because the operator filed")
    closed_down: int = Field(description="closed in the year by closing the operator down (依法关停)")


class DistrictStatsOut(_Out):
    code: str
    name: str
    institutions: int
    slots: SlotsOut
    slots_per_1000: DensityOut
    puhui: PuhuiOut
    annual_reports: AnnualReportsOut
    staff: StaffOut
    inspections: InspectionsOut
    violations: ViolationsOut = Field(description="violations confirmed in the year, by severity")
    credit_grades: GradesOut = Field(description="grade in force at the end of the year, filed institutions")
    quality_assessment: QualityAssessmentOut
    filing_decisions: FilingDecisionsOut
    unlicensed_cases: UnlicensedCasesOut


class DistrictStatsPage(_Out):
    year: int
    as_of: date = Field(description="day staff and certificates are counted on: 31 Dec, or today in the current year")
    districts: list[DistrictStatsOut]
    city: DistrictStatsOut


class StreetCoverageOut(_Out):
    code: str
    name: str
    streets: int
    covered: int = Field(description="streets/towns with ≥1 filed institution offering 普惠 slots")
    share: float | None
    target: float | None
    public_private_covered: int = Field(description="… of which the institution is 公建民营")
    public_private_share: float | None
    public_private_target: float | None


class UncoveredStreetOut(_Out):
    code: str
    name: str
    district_code: str
    district_name: str


class StreetStatsPage(_Out):
    year: int
    districts: list[StreetCoverageOut]
    city: StreetCoverageOut
    uncovered: list[UncoveredStreetOut]


class InspectionOut(_Out):
    task_id: uuid.UUID
    kind: str
    conclusion: str
    violation_count: int
    inspected_at: datetime
    published_at: datetime


class ViolationOut(_Out):
    violation_id: uuid.UUID
    code: str | None
    title_zh: str | None
    severity: str
    confirmed_at: datetime
    rectification_due: date | None
    escalated: bool


class GradeOut(_Out):
    grade: str
    score: float
    graded_at: datetime


class AnnualReportStatusOut(_Out):
    year: int
    status: str = Field(description="on_time | late | overdue | pending | not_due")
    submitted_at: datetime | None


class SummaryStaffOut(_Out):
    active: int
    by_role: dict[str, int]
    certified: int
    trained: int
    certified_rate: float | None
    training_rate: float | None


class SummaryViolationsOut(_Out):
    confirmed: int
    open: int = Field(description="confirmed and not closed")
    open_by_severity: dict[str, int]
    open_items: list[ViolationOut]


class InstitutionSummaryOut(_Out):
    institution_id: uuid.UUID
    status: str = Field(description="unknown | submitted | returned | rejected | filed | deregistered")
    name: str | None
    district_code: str | None
    street_code: str | None
    operating_model: str | None
    total_slots: int | None
    puhui_slots: int | None
    filed_at: datetime | None
    deregistered_at: datetime | None
    as_of: date
    staff: SummaryStaffOut
    inspections: int
    latest_inspection: InspectionOut | None
    violations: SummaryViolationsOut
    credit_grade: GradeOut | None
    annual_report: AnnualReportStatusOut
