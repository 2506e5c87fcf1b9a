"""Errors of the inspection service (stable English codes, Chinese messages)."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


class InspectorNotFound(NotFound):
    code = "inspector_not_found"
    message_zh = "未找到该检查人员"


class InstitutionNotInPool(NotFound):
    code = "institution_not_in_pool"
    message_zh = "该机构不在检查对象名录库中（未备案或已注销）"


class BadgeNumberTaken(Conflict):
    code = "badge_number_taken"
    message_zh = "该执法证号已登记"


class SubjectTaken(Conflict):
    code = "subject_taken"
    message_zh = "该账号已登记为检查人员"


class ConflictAlreadyDeclared(Conflict):
    code = "conflict_already_declared"
    message_zh = "该检查人员与该机构的回避关系已登记"


class PlanNotFound(NotFound):
    code = "plan_not_found"
    message_zh = "未找到该抽查计划"


class PlanNotCommitted(Conflict):
    code = "plan_not_committed"
    message_zh = "抽查计划尚未锁定名单（commit），不能抽取"


class PlanAlreadyCommitted(Conflict):
    code = "plan_already_committed"
    message_zh = "抽查计划已锁定名单，不能重复锁定"


class PlanAlreadyDrawn(Conflict):
    code = "plan_already_drawn"
    message_zh = "抽查计划已完成抽取，不能重复抽取"


class PlanNotDrawn(Conflict):
    code = "plan_not_drawn"
    message_zh = "抽查计划尚未抽取，抽取记录尚未公开"


class ObserverNotFound(NotFound):
    code = "observer_not_found"
    message_zh = "未找到该计划的监督员"


class ObserversRequired(Conflict):
    code = "observers_required"
    message_zh = "锁定名单前须登记足够数量的独立监督员承诺值"


class RevealTimeNotReached(Conflict):
    code = "reveal_time_not_reached"
    message_zh = "未到揭示时间，不能揭示见证值或抽取"


class WitnessRevealsPending(Conflict):
    code = "witness_reveals_pending"
    message_zh = "尚有监督员未揭示见证值，宽限期结束前不能抽取"


class NoWitnessRevealed(Conflict):
    code = "no_witness_revealed"
    message_zh = "没有任何监督员揭示见证值，不能抽取"


class BeaconRoundNotReached(Conflict):
    code = "beacon_round_not_reached"
    message_zh = "随机信标的指定轮次尚未产生，不能抽取"


class RevealAfterBeaconRound(Conflict):
    code = "reveal_after_beacon_round"
    message_zh = "随机信标的指定轮次已产生，不再接受揭示见证值"


class ObserverAlreadyRevealed(Conflict):
    code = "observer_already_revealed"
    message_zh = "该监督员已揭示见证值"


class TaskNotFound(NotFound):
    code = "task_not_found"
    message_zh = "未找到该检查任务"


class NotOnTeam(Forbidden):
    code = "not_on_team"
    message_zh = "您不是该检查任务的检查组成员"


class NotAnInspector(Forbidden):
    code = "not_an_inspector"
    message_zh = "您的账号未登记在检查人员名录库中"


class TaskClosed(Conflict):
    code = "task_closed"
    message_zh = "检查任务已提交，不能再修改"


class TaskNotSubmitted(Conflict):
    code = "task_not_submitted"
    message_zh = "检查任务尚未由检查组全体成员签名提交"


class TaskAlreadyReviewed(Conflict):
    code = "task_already_reviewed"
    message_zh = "检查任务已审核并公开"


class ViolationNotFound(NotFound):
    code = "violation_not_found"
    message_zh = "未找到该违规记录"


class IllegalViolationTransition(Conflict):
    code = "illegal_transition"
    message_zh = "该违规记录当前状态下不能执行此操作"


class IdempotencyKeyMissing(InvalidInput):
    code = "idempotency_key_missing"
    message_zh = "写操作必须携带 Idempotency-Key 请求头（同一操作重试时使用同一值）"

    def __init__(self, message_zh: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message_zh, code=code, field="Idempotency-Key")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message_zh = "该 Idempotency-Key 已用于另一个不同的请求，请为新请求使用新的值"

    def __init__(self) -> None:
        super().__init__(field="Idempotency-Key")


class ReviewerOnTeam(Forbidden):
    """Separation of duties (shared/duties.py ``inspection.reviewer_not_on_team``)."""

    code = "reviewer_on_team"
    message_zh = "您是该检查任务的检查组成员，不能审核本组的检查结果（四眼原则：检查与审核须由不同人员承担）"


class InspectorInactive(Forbidden):
    code = "inspector_inactive"
    message_zh = "您的检查人员账号已停用，不能再查看或办理检查任务"


class RemovedFromTeam(Forbidden):
    code = "removed_from_team"
    message_zh = "您已被移出该检查任务的检查组（回避或重新指派），不能再查看或办理该任务"


class TaskNeedsReassignment(Conflict):
    code = "task_needs_reassignment"
    message_zh = "检查组有成员已停用或因回避被移出，须由监督人员重新指派检查组后才能提交"
