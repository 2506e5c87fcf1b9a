from __future__ import annotations

from shared.errors import InvalidInput, NotFound


class YearOutOfRange(InvalidInput):
    code = "year_out_of_range"
    message_zh = "统计年度超出范围"


class InstitutionUnknown(NotFound):
    code = "institution_not_found"
    message_zh = "共享台账中没有该机构的记录"
