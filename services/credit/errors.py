"""Errors of the credit service, each with a stable English code and a Chinese message."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound


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


class EvidenceNotFound(NotFound):
    code = "credit_evidence_not_found"
    message_zh = "未找到该信用记录的证明材料"


# --- separation of duties (shared/duties.py) -------------------------------------------------------


class RepairSelfDecision(Forbidden):
    code = "credit_repair_self_decision"
    message_zh = "您是该信用修复的申请经办人，不能自行作出决定，须由另一名信用管理人员审核决定（四眼原则）"


class EvidenceNotUploaded(Conflict):
    code = "credit_evidence_not_uploaded"
    message_zh = "证明材料未上传：请先通过 POST /v1/credit/entries/{entry_id}/evidence 上传该信用记录的证明材料"


class RectificationOpen(Conflict):
    code = "credit_rectification_open"
    message_zh = "该信用记录所涉违法违规行为尚未经复查确认整改到位，暂不能批准信用修复"


class ReplayConflict(RuntimeError):
    """A decision event that contradicts the stored state (dead-lettered by the consumer)."""
