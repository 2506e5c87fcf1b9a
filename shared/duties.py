"""Separation of duties (四眼原则): the declared table of who may not decide what they themselves did.

Every rule is on by default and can be switched off per rule by its own service setting (named in
``setting``, e.g. ``INSPECTION_SOD_REVIEWER_NOT_ON_TEAM=false``), for instance where a small office
has a single officer; the reason and legal basis below say what is given up by doing so. A service
start logs every rule it runs with switched off. The refusals themselves are the services' own
errors (stable English code, Chinese message); this table is what docs/api.md documents and what
``tests/security/test_separation_of_duties.py`` checks against the settings classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DutyRule:
    id: str
    service: str
    setting: str  # the boolean field of the service's settings that switches the rule (default True)
    code: str  # the error code a refusal carries
    status: int  # 403: the wrong person; 409: the right person, too early or without what is required
    rule: str
    reason: str


RULES: tuple[DutyRule, ...] = (
    DutyRule(
        id="inspection.reviewer_not_on_team",
        service="inspection",
        setting="sod_reviewer_not_on_team",
        code="reviewer_on_team",
        status=403,
        rule="A task is reviewed (violations confirmed, result published) by a supervisor who is not and "
        "was not an inspector on its team.",
        reason="Whoever investigated does not confirm their own findings: 《行政处罚法》（2021修订）第五十七条"
        "（调查终结后由行政机关负责人审查）、第五十八条（法制审核，初次从事法制审核的人员应取得法律职业资格）; "
        "国办发〔2018〕118号（重大执法决定法制审核制度：审核与承办相分离）.",
    ),
    DutyRule(
        id="credit.repair_decider_not_applicant",
        service="credit",
        setting="sod_repair_decider_not_applicant",
        code="credit_repair_self_decision",
        status=403,
        rule="A credit repair is decided by a credit officer other than the one who applied for it.",
        reason="Acceptance and decision are incompatible posts: 《行政事业单位内部控制规范（试行）》"
        "（财会〔2012〕21号）第十二条（不相容岗位相互分离）; "
        "《信用修复管理办法》（2026年4月1日起施行：受理、审核、决定）.",
    ),
    DutyRule(
        id="credit.repair_evidence_uploaded",
        service="credit",
        setting="sod_repair_evidence_uploaded",
        code="credit_evidence_not_uploaded",
        status=409,
        rule="Every evidence SHA-256 of a repair application is a document uploaded for that entry "
        "(POST /v1/credit/entries/{entry_id}/evidence) before the application.",
        reason="A decision rests on documents the decider can open, not on hashes typed in: "
        "《信用修复管理办法》（申请信用修复应当提交履行义务、纠正失信行为的证明材料和信用承诺）.",
    ),
    DutyRule(
        id="credit.repair_after_rectification",
        service="credit",
        setting="sod_repair_after_rectification",
        code="credit_rectification_open",
        status=409,
        rule="A repair of an entry caused by a violation is decided only after the violation's rectification "
        "was verified and closed (ViolationClosedV1), unless the policy rule sets "
        "repair_without_rectification with its legal basis.",
        reason="Correcting the dishonest behaviour is a condition of repair: 《信用修复管理办法》（2026年4月1日起施行："
        "纠正失信行为、履行法定义务）; 国家发展改革委令第58号.",
    ),
    DutyRule(
        id="filing.decider_not_submitter",
        service="filing",
        setting="sod_decider_not_submitter",
        code="filing_self_decision",
        status=403,
        rule="A filing (or a key change) that an officer submitted on an institution's behalf is decided by "
        "another officer.",
        reason="Whoever enters the application does not approve it: 《行政事业单位内部控制规范（试行）》"
        "（财会〔2012〕21号）第十二条（不相容岗位相互分离）; 《托育机构登记和备案办法（试行）》（审核备案）.",
    ),
    DutyRule(
        id="filing.suspension_confirmer_not_proposer",
        service="filing",
        setting="sod_suspension_confirmer_not_proposer",
        code="suspension_self_decision",
        status=403,
        rule="The decision that ends a suspension (暂停收托: resume or deregister) is proposed by one filing "
        "officer and confirmed by another of the district.",
        reason="A decision with legal effect on an institution is not taken by one person alone: "
        "《行政事业单位内部控制规范（试行）》（财会〔2012〕21号）第十二条（不相容岗位相互分离）; "
        "《托育机构登记和备案办法（试行）》（注销备案）.",
    ),
)

RULES_BY_ID = {r.id: r for r in RULES}


def enabled(settings: object, rule_id: str) -> bool:
    """Whether ``rule_id`` is on under ``settings`` (on unless its setting says False)."""
    return bool(getattr(settings, RULES_BY_ID[rule_id].setting, True))


def log_disabled(settings: object, service: str) -> list[DutyRule]:
    """Log (warning) every rule of ``service`` switched off under ``settings``; returns them."""
    off = [r for r in RULES if r.service == service and not enabled(settings, r.id)]
    for r in off:
        log.warning("separation-of-duties rule switched off", extra={"rule": r.id, "setting": r.setting})
    return off
