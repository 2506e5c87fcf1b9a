"""Whose data a caller may touch: the district scope of officers (辖区).

A filing officer works for one district bureau (区卫生健康局): the token's ``districts`` claim
(6-digit codes; names such as "天河区" are accepted too) is the only place they may read or write an
institution's data, in every service that serves it (filing: institutions, documents, staff,
annual reports; inspection: quality assessments). Supervisors and operations work for the city and
read every district; a token that holds one of those roles reads city-wide even if it is also a
filing officer's. Writes made as a filing officer are always limited to the token's districts.

Other roles are not district-bound by their token: inspectors act on the tasks whose team they are
on and, for on-site quality assessments, in the districts the inspector pool records for them (the
inspection service checks both); credit officers keep the city's credit record (诚信档案, one for
the whole city); agencies read what their data-sharing grant covers (``shared.grants``).

Every refusal is 403 ``district_out_of_scope``. A service that is not the filing service knows an
institution's district from its own projection of the filing events (inspection: the target pool).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.auth import Principal
from shared.errors import Forbidden
from shared.reference import district_by_name_or_code, districts

DISTRICT_BOUND_ROLES = frozenset({"filing_officer"})
CITY_WIDE_READERS = frozenset({"supervisor", "ops"})


class DistrictOutOfScope(Forbidden):
    code = "district_out_of_scope"
    message_zh = "您只能办理或查看本辖区托育机构的业务"


def district_codes(values: Iterable[str]) -> frozenset[str]:
    """The district codes of a token's ``districts`` (codes or names; unknown values are ignored)."""
    out = set()
    for value in values:
        district = district_by_name_or_code(value)
        if district is not None:
            out.add(district.code)
    return frozenset(out)


def covers(principal: Principal, district_code: str) -> bool:
    return district_code in district_codes(principal.districts)


def _refusal(principal: Principal, district_code: str | None, field: str | None, action_zh: str) -> DistrictOutOfScope:
    known = districts()
    mine = "、".join(known[c].name for c in sorted(district_codes(principal.districts))) or "无"
    theirs = known[district_code].name if district_code in known else "未知区"
    return DistrictOutOfScope(f"该机构属于{theirs}，不在您的辖区（{mine}），无权{action_zh}", field=field)


def require_district(principal: Principal, district_code: str, *, field: str | None = None) -> None:
    """A write made as a filing officer: the institution must lie in the token's districts."""
    if not covers(principal, district_code):
        raise _refusal(principal, district_code, field, "办理其业务")


def read_scope(principal: Principal) -> frozenset[str] | None:
    """The districts a reader may read institutions' data of: None = the whole city (supervisor,
    ops, and roles that are not district-bound); a filing officer's token districts otherwise."""
    if any(principal.has(role) for role in CITY_WIDE_READERS):
        return None
    if any(principal.has(role) for role in DISTRICT_BOUND_ROLES):
        return district_codes(principal.districts)
    return None


def require_readable(principal: Principal, district_code: str | None, *, field: str | None = None) -> None:
    """A read of one institution's data: refused when the reader is district-bound and the
    institution lies elsewhere (or its district is unknown)."""
    scope = read_scope(principal)
    if scope is not None and district_code not in scope:
        raise _refusal(principal, district_code, field, "查看其数据")
