"""Errors of the annual-report API, each with a stable code and a Chinese message."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


class AnnualReportNotFound(NotFound):
    code = "annual_report_not_found"
    message_zh = "未找到该机构该年度的年报"


class InstitutionNotFiled(Conflict):
    code = "institution_not_filed"
    message_zh = "该机构尚未备案或已注销，不能报送年报"


class AnnualReportExists(Conflict):
    code = "annual_report_exists"
    message_zh = "该机构该年度的年报已报送，不能重复报送"


class DistrictOutOfScope(Forbidden):
    code = "district_out_of_scope"
    message_zh = "该机构不在您负责的区，无权为其报送年报"


class YearOutOfRange(InvalidInput):
    code = "year_out_of_range"
    message_zh = "年报年度不正确"

    def __init__(self, message_zh: str) -> None:
        super().__init__(message_zh, field="year")


class EnrolmentExceedsCapacity(InvalidInput):
    code = "enrolment_exceeds_capacity"
    message_zh = "在托幼儿人数超过备案托位数"

    def __init__(self, message_zh: str) -> None:
        super().__init__(message_zh, field="enrolment")
