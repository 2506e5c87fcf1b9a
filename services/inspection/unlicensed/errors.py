from __future__ import annotations

from shared.errors import Conflict, NotFound


class CaseNotFound(NotFound):
    code = "case_not_found"
    message_zh = "未找到该无证照机构案件"


class CaseClosed(Conflict):
    code = "case_closed"
    message_zh = "该案件已结案，不能再修改"


class StepNotFound(NotFound):
    code = "step_not_found"
    message_zh = "未找到该帮扶步骤"


class StepAlreadyCompleted(Conflict):
    code = "step_already_completed"
    message_zh = "该帮扶步骤已完成"


class SiteLocationUnknown(Conflict):
    code = "site_location_unknown"
    message_zh = "该案件尚未登记现场位置（经纬度），无法核验签到距离；请主管先在案件中登记位置"
