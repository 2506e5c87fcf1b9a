"""Errors of the staff roster, each with a stable English code and a Chinese message."""

from __future__ import annotations

from datetime import date

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


class DistrictOutOfScope(Forbidden):
    code = "district_out_of_scope"
    message_zh = "该托育机构不在您负责的辖区内"


class InstitutionNotFiled(Conflict):
    code = "institution_not_filed"
    message_zh = "该托育机构尚未备案，不能登记从业人员"


class AlreadyEmployed(Conflict):
    code = "already_employed"
    message_zh = "该人员已在本机构在职，不能重复登记"


class PersonBanned(Conflict):
    code = "person_banned"
    message_zh = "该人员已被列入托育从业禁止名单，不得录用"

    def __init__(self, *, reason: str, legal_basis: str, until: date | None, field: str = "id_number") -> None:
        term = f"禁止期限至{until.isoformat()}" if until is not None else "终身禁止从业"
        super().__init__(
            f"该人员已被列入托育从业禁止名单，不得录用。禁止原因：{reason}；法律依据：{legal_basis}；{term}。",
            field=field,
        )


class StaffNotFound(NotFound):
    code = "staff_not_found"
    message_zh = "本机构没有该从业人员"


class AlreadyLeft(Conflict):
    code = "already_left"
    message_zh = "该人员已办理离职，不能重复离职"


class HealthCertificateExpired(InvalidInput):
    code = "health_certificate_expired"
    message_zh = "健康证明已过期，须取得有效健康证明后方可上岗"
