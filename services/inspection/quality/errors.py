from __future__ import annotations

from shared.errors import Conflict, NotFound


class AssessmentNotFound(NotFound):
    code = "assessment_not_found"
    message_zh = "未找到该质量评估"


class SchemeNotFound(NotFound):
    code = "scheme_not_found"
    message_zh = "未找到该评估方案版本"


class SchemeNotActive(Conflict):
    code = "scheme_version_not_active"
    message_zh = "该评估方案版本不是当前启用的版本，请按当前版本重新填写"


class SchemeChanged(Conflict):
    code = "scheme_version_changed"
    message_zh = "该评估方案版本的内容与首次用于评估时不一致：已用过的版本不得修改，修改方案须发布新版本"
