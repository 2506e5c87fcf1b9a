from __future__ import annotations

from shared.errors import Conflict, NotFound


class InstitutionNotFound(NotFound):
    code = "institution_not_found"
    message_zh = "未找到该托育机构"


class UsccAlreadyFiled(Conflict):
    code = "uscc_already_filed"
    message_zh = "该统一社会信用代码已提交过备案"
