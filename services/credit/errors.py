from __future__ import annotations

from shared.errors import NotFound


class CreditRecordNotFound(NotFound):
    code = "credit_record_not_found"
    message_zh = "未找到该主体的诚信档案"
