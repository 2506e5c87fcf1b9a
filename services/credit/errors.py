"""Errors of the credit service, each with a stable English code and a Chinese message."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class SubjectNotFound(NotFound):
    code = "credit_record_not_found"
    message_zh = "未找到该主体的诚信档案"


# Kept for callers of the first version of this module.
CreditRecordNotFound = SubjectNotFound


class EntryNotFound(NotFound):
    code = "credit_entry_not_found"
    message_zh = "未找到该信用记录"


class RepairNotFound(NotFound):
    code = "credit_repair_not_found"
    message_zh = "未找到该信用修复申请"


class PolicyNotFound(NotFound):
    code = "credit_policy_not_found"
    message_zh = "未找到该版本的信用评价规则"


class PolicyAlreadyActive(Conflict):
    code = "credit_policy_already_active"
    message_zh = "该版本的信用评价规则已在施行"


class RuleNotRepairable(Conflict):
    code = "credit_entry_not_repairable"
    message_zh = "该信用记录依规则不予信用修复"


class RepairTooEarly(Conflict):
    code = "credit_repair_too_early"
    message_zh = "最短公示期未满，暂不能申请信用修复"


class EntryNotCounting(Conflict):
    code = "credit_entry_not_counting"
    message_zh = "该信用记录当前不计分，无需修复"


class RepairExists(Conflict):
    code = "credit_repair_exists"
    message_zh = "该信用记录已有待审核或已批准的修复申请"


class RepairAlreadyDecided(Conflict):
    code = "credit_repair_already_decided"
    message_zh = "该信用修复申请已作出决定"
