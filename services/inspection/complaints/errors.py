from __future__ import annotations

from shared.errors import Conflict, NotFound


class ComplaintNotFound(NotFound):
    code = "complaint_not_found"
    message_zh = "未找到该投诉"


class ComplaintAlreadyTriaged(Conflict):
    code = "complaint_already_triaged"
    message_zh = "该投诉已分办处理，不能重复分办"
