"""Errors every filing domain raises about the institution itself (institutions, staff, annual
reports and the district scope all read one), declared here so no domain imports another's errors."""

from __future__ import annotations

from shared.errors import NotFound


class InstitutionNotFound(NotFound):
    code = "institution_not_found"
    message_zh = "未找到该托育机构"
