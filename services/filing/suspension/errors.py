from __future__ import annotations

from shared.errors import Conflict, Forbidden


class NotSuspended(Conflict):
    code = "institution_not_suspended"
    message_zh = "该机构未处于暂停收托状态，无需作出暂停收托处理决定"


class NoProposal(Conflict):
    code = "suspension_no_proposal"
    message_zh = "尚无待确认的处理意见：请先由一名备案人员提出恢复收托或注销备案的意见"


class SuspensionSelfDecision(Forbidden):
    """Separation of duties (shared/duties.py ``filing.suspension_confirmer_not_proposer``)."""

    code = "suspension_self_decision"
    message_zh = "您是该处理意见的提出人，不能自行确认，须由本辖区另一名备案人员确认（四眼原则）"


class OutcomeMismatch(Conflict):
    code = "suspension_outcome_mismatch"
    message_zh = "确认的处理结果与提出的意见不一致，请重新提出意见"
