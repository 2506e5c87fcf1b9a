from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound


class UsccAlreadyFiled(Conflict):
    code = "uscc_already_filed"
    message_zh = "该统一社会信用代码已提交过备案"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message_zh = "当前状态下不能执行此操作"


class ChangePending(Conflict):
    code = "change_pending"
    message_zh = "该机构已有待审核的变更，请先完成审核"


class ChangeWhileSuspended(Conflict):
    """A change filed before a suspension waits: deciding it would alter (even move) an institution
    the officers are deciding to resume or deregister."""

    code = "change_decision_suspended"
    message_zh = "该机构处于暂停收托状态，暂不能审核其变更申请：请待恢复收托后再作决定（注销备案时变更不再办理）"


class DistrictOutOfScope(Forbidden):
    code = "district_out_of_scope"
    message_zh = "您只能办理本辖区托育机构的业务"


class DocumentNotFound(NotFound):
    code = "document_not_found"
    message_zh = "未找到该材料文件"


class SelfDecision(Forbidden):
    """Separation of duties (shared/duties.py ``filing.decider_not_submitter``)."""

    code = "filing_self_decision"
    message_zh = "您是该备案申请（或变更申请）的提交人，不能自行作出决定，须由另一名备案人员审核决定（四眼原则）"
