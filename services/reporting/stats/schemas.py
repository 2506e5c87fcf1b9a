"""Response bodies of the statistics and the institution summary (definitions: docs/statistics.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _document_every_figure_as_present(schema: dict[str, Any]) -> None:
    # the zeros are where the counting starts, not defaults a client could omit: every figure is
    # in every answer, so the document lists them as required and shows no default
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class _Figures(_Out):
    """A group of figures that ``figures.district_stats`` counts into in place and the answer
    returns as is: its counts start at 0 and its rates and targets at null."""

    model_config = ConfigDict(
        json_schema_serialization_defaults_required=True,
        json_schema_extra=_document_every_figure_as_present,
    )


class SlotsOut(_Out):
    value: int = Field(description="filed slots: institutions filed by the end of the year and not deregistered")
    target: int | None = Field(description="annex target of the year (2023–2025), else null")
    progress: float | None = Field(description="value / target")
    gap: int | None = Field(description="max(target − value, 0): slots still missing for the year's target")
    baseline_2022: int = Field(description="annex: slots existing in December 2022 (2022年已有托位)")
    planned_2025: int = Field(description="annex: slots planned for 2025 (2025年规划托位)")
    to_add_2025: int = Field(description="max(planned_2025 − value, 0): still to add for the 2025 plan")


class DensityOut(_Out):
    value: float | None = Field(
        description="slots per 1,000 residents; every year divides by the 2023 resident population "
        "(population_2023_10k × 10,000)"
    )
    target: float | None = Field(description="the plan's city-wide target (city only; null for a district)")
    residents: int = Field(description="2023 resident population")


class PuhuiOut(_Out):
    slots: int
    share: float | None = Field(description="普惠 slots / slots")
    target: float | None = Field(description="the plan's city-wide minimum share (city only; null for a district)")


class AnnualReportsOut(_Figures):
    report_year: int = Field(description="the year reported on: year − 1 (those reports fall due in the year)")
    expected: int = 0
    submitted: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = Field(0, description="expected, marked overdue, not submitted")
    completion_rate: float | None = Field(None, description="submitted / expected")
    on_time_rate: float | None = Field(None, description="on_time / expected")
    target: float | None = None


class StaffOut(_Figures):
    active: int = 0
    by_role: dict[str, int]
    certified: int = 0
    trained: int = 0
    certified_rate: float | None = Field(None, description="certified / active")
    training_rate: float | None = Field(None, description="trained / active")


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


class FilingDecisionsOut(_Figures):
    filed: int = 0
    returned: int = 0
    rejected: int = 0
    total: int = Field(0, description="filing decisions made in the year")
    pass_rate: float | None = Field(None, description="备案通过率: filed / total")


class UnlicensedCasesOut(_Figures):
    opened: int = Field(0, description="unlicensed-operator cases opened in the year")
    open: int = Field(0, description="opened and not closed at the end of the year")
    closed_filed: int = Field(0, description="closed in the year because the operator filed")
    closed_down: int = Field(0, description="closed in the year by closing the operator down (依法关停)")


# one operating model (办托模式) over the filed institutions, and the plan's targets for it (a comment,
# not a docstring: a docstring would become the schema's description in the published document)
class OperatingModelOut(_Figures):
    model: str = Field(description="operating model code (public, public_private, private, employer, …)")
    label: str = Field(description="its Chinese name (办托模式)")
    institutions: int = 0
    slots: int = 0
    puhui_slots: int = 0
    classes: int = Field(0, description="classes (班) of the institutions")
    added_institutions: int = Field(
        0,
        description="of which filed on the platform from 2023-01-01 on (the plan's 新增 since the 2022 baseline); "
        "no founding date is recorded, so an institution founded before 2023 and filed later counts too",
    )
    added_slots: int = Field(0, description="slots of those institutions")
    added_institutions_target: float | None = Field(
        None, description="plan: institutions to add by the year (employer)"
    )
    added_slots_target: float | None = Field(None, description="plan: slots to add by the year (employer)")
    slots_target: float | None = Field(None, description="plan: slots of the model by the year (kindergarten classes)")
    classes_target: float | None = Field(
        None, description="plan: classes of the model by the year (幼儿园托班 500/700/1000)"
    )


class ComplaintsOut(_Figures):
    received: int = Field(0, description="complaints received in the year")
    by_category: dict[str, int] = Field(description="received in the year, per category")
    triaged: int = Field(0, description="complaints triaged in the year")
    by_action: dict[str, int] = Field(description="triaged in the year, per action")
    untriaged: int = Field(0, description="received before the end of the year and not triaged before it")


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
    operating_models: list[OperatingModelOut] = Field(description="per operating model, with the plan's targets")
    complaints: ComplaintsOut


class DistrictStatsPage(_Out):
    year: int
    as_of: date = Field(description="day staff and certificates are counted on: 31 Dec, or today in the current year")
    districts: list[DistrictStatsOut]
    city: DistrictStatsOut
    labels: dict[str, str] = Field(description="the Chinese name of each figure, by its path (what pages show)")


class ProgressYearOut(_Out):
    year: int
    slots: SlotsOut
    slots_per_1000: DensityOut
    puhui: PuhuiOut


class ProgressAreaOut(_Out):
    code: str
    name: str
    years: list[ProgressYearOut]


class ProgressPage(_Out):
    baseline_year: int = Field(description="the annex's baseline (slots existing in December 2022)")
    years: list[int]
    districts: list[ProgressAreaOut]
    city: ProgressAreaOut
    labels: dict[str, str]


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
    labels: dict[str, str]


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


# The Chinese name of every figure, by its path in the answers: pages show these, so one figure has
# one name everywhere (docs/statistics.md gives the definitions).
DISTRICT_LABELS_ZH: dict[str, str] = {
    "institutions": "备案机构",
    "slots.value": "备案托位",
    "slots.target": "托位目标",
    "slots.progress": "托位完成率",
    "slots.gap": "距年度目标还差",
    "slots.baseline_2022": "2022年已有托位",
    "slots.planned_2025": "2025年规划托位",
    "slots.to_add_2025": "距2025年规划还需新增",
    "slots_per_1000.value": "每千人口托位数",
    "slots_per_1000.target": "每千人口托位目标",
    "slots_per_1000.residents": "2023年常住人口",
    "puhui.slots": "普惠托位",
    "puhui.share": "普惠托位占比",
    "puhui.target": "普惠托位占比目标",
    "annual_reports.expected": "应报年报",
    "annual_reports.submitted": "已报年报",
    "annual_reports.on_time": "按时报送",
    "annual_reports.late": "逾期补报",
    "annual_reports.overdue": "逾期未报",
    "annual_reports.completion_rate": "年报完成率",
    "annual_reports.on_time_rate": "年报按时率",
    "annual_reports.target": "年报完成率目标",
    "staff.active": "在岗人员",
    "staff.certified": "持证人员",
    "staff.certified_rate": "从业人员持证率",
    "staff.trained": "受训人员",
    "staff.training_rate": "培训率",
    "inspections.filed_institutions": "备案机构",
    "inspections.inspected": "有检查结果的机构",
    "inspections.coverage": "检查覆盖率",
    "violations.minor": "轻微",
    "violations.general": "一般",
    "violations.serious": "严重",
    "violations.critical": "特别严重",
    "violations.total": "确认违规",
    "credit_grades.A": "A级",
    "credit_grades.B": "B级",
    "credit_grades.C": "C级",
    "credit_grades.D": "D级",
    "credit_grades.ungraded": "未评级",
    "quality_assessment.assessed": "已现场评估机构",
    "quality_assessment.share": "质量评估覆盖率",
    "quality_assessment.grades.A": "评估A级",
    "quality_assessment.grades.B": "评估B级",
    "quality_assessment.grades.C": "评估C级",
    "quality_assessment.grades.D": "评估D级",
    "filing_decisions.filed": "予以备案",
    "filing_decisions.returned": "退回补正",
    "filing_decisions.rejected": "不予备案",
    "filing_decisions.total": "备案审核决定",
    "filing_decisions.pass_rate": "备案通过率",
    "unlicensed_cases.opened": "新立无证照案件",
    "unlicensed_cases.open": "年末在办案件",
    "unlicensed_cases.closed_filed": "结案：已备案",
    "unlicensed_cases.closed_down": "结案：依法关停",
    "operating_models.institutions": "机构",
    "operating_models.slots": "托位",
    "operating_models.puhui_slots": "普惠托位",
    "operating_models.classes": "班数",
    "operating_models.classes_target": "班数目标",
    "operating_models.added_institutions": "2023年起在平台备案的机构",
    "operating_models.added_slots": "2023年起在平台备案的托位",
    "operating_models.added_institutions_target": "新增机构目标",
    "operating_models.added_slots_target": "新增托位目标",
    "operating_models.slots_target": "托位目标",
    "complaints.received": "收到投诉",
    "complaints.triaged": "已分办投诉",
    "complaints.untriaged": "年末待分办",
    "complaints.by_category.safety": "安全隐患",
    "complaints.by_category.abuse": "虐待、伤害婴幼儿",
    "complaints.by_category.hygiene_food": "卫生与膳食",
    "complaints.by_category.staffing": "人员资质与配比",
    "complaints.by_category.fees": "收费与合同",
    "complaints.by_category.unlicensed": "无证照或未备案经营",
    "complaints.by_category.other": "其他",
    "complaints.by_action.targeted_inspection": "专项检查",
    "complaints.by_action.referral": "转交其他部门",
    "complaints.by_action.close": "不予立案结束",
    "complaints.by_action.open_unlicensed_case": "无证照立案",
}

STREET_LABELS_ZH: dict[str, str] = {
    "covered": "有普惠机构的街镇",
    "streets": "街镇数",
    "share": "普惠街镇覆盖率",
    "target": "普惠街镇覆盖率目标",
    "public_private_covered": "有公建民营普惠机构的街镇",
    "public_private_share": "公建民营街镇覆盖率",
    "public_private_target": "公建民营街镇覆盖率目标",
}
