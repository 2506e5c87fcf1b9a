from __future__ import annotations

from shared.errors import InvalidInput


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    message_zh = "游标无效：必须是不小于 -1 的整数"
