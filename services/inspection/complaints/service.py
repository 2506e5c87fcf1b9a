"""Complaints (投诉): anyone reports a concern about a filed institution or a place; a supervisor
triages it into a targeted inspection, a referral, a closed case, or an unlicensed-operator case;
the complainant follows it with a receipt code that shows that complaint's status and nothing else.
No commits here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.complaints import repository
from services.inspection.complaints.errors import ComplaintAlreadyTriaged, ComplaintNotFound
from services.inspection.complaints.models import Complaint
from services.inspection.pool import repository as pool_repository
from services.inspection.tasks import service as tasks_service
from services.inspection.unlicensed import repository as unlicensed_repository
from services.inspection.unlicensed import service as unlicensed_service
from shared.errors import InvalidInput
from shared.events.inspection import CONCLUSION_ZH, ComplaintReceivedV1, ComplaintTriagedV1
from shared.outbox import Outbox
from shared.reference import districts, streets
from shared.workdays import china_today

STATUS_ZH = {
    "received": "已受理，待处理",
    "investigating": "核查处理中",
    "referred": "已转交有关部门处理",
    "closed": "已办结",
    "concluded": "已办结",
}
RECEIPT_LENGTH = 10  # base32: 50 bits, unguessable at the look-up rate limit


# --- the receipt and the contact ----------------------------------------------------------------------


def new_receipt() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:RECEIPT_LENGTH]


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.upper().encode("ascii")).hexdigest()


class ContactBox:
    """AES-256-GCM for the complainant's contact, with a key derived from the PII encryption secret
    under its own HKDF label (so it is independent of the resident-ID key)."""

    _INFO = b"childcare-platform/inspection/complaint-contact/v1"
    _AAD = b"complaint-contact"

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self._INFO).derive(secret.encode("utf-8"))
        self._aead = AESGCM(key)

    def seal(self, contact: str) -> bytes:
        nonce = os.urandom(12)
        return b"\x01" + nonce + self._aead.encrypt(nonce, contact.encode("utf-8"), self._AAD)

    def open(self, blob: bytes) -> str:
        data = bytes(blob)
        return self._aead.decrypt(data[1:13], data[13:], self._AAD).decode("utf-8")


# --- submission ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintInput:
    institution_id: uuid.UUID | None
    district_code: str | None
    street_code: str | None
    address: str | None
    operator_name: str | None
    category: str
    description: str
    contact: str | None


async def submit(
    session: AsyncSession, outbox: Outbox, data: ComplaintInput, *, box: ContactBox, now: datetime
) -> tuple[Complaint, str]:
    if (data.institution_id is None) == (data.address is None):
        raise InvalidInput(
            "请填写被投诉的已备案机构（institution_id）或具体地址（address），二者选其一",
            code="subject_required",
            field="institution_id" if data.institution_id is None else "address",
        )
    institution_name: str | None = None
    district_code: str
    street_code: str | None
    if data.institution_id is not None:
        if data.district_code is not None or data.street_code is not None or data.operator_name is not None:
            field = "district" if data.district_code else ("street_code" if data.street_code else "operator_name")
            raise InvalidInput("投诉已备案机构时不需要填写区、街道或经营者名称", code="not_allowed", field=field)
        institution = await pool_repository.get_institution(session, data.institution_id)
        if institution is None or institution.status != "filed":
            raise InvalidInput(
                "未找到该已备案托育机构；如不确定，请填写具体地址", code="institution_not_found", field="institution_id"
            )
        institution_name, district_code, street_code = institution.name, institution.district_code, None
    else:
        if data.district_code is None:
            raise InvalidInput("填写地址时须注明所在区", code="district_required", field="district")
        district_code = data.district_code
        street_code = data.street_code
        if street_code is not None:
            street = streets().get(street_code)
            if street is None:
                raise InvalidInput("街道（镇）代码不存在", code="unknown_street", field="street_code")
            if street.district_code != district_code:
                raise InvalidInput(
                    f"{street.name}不属于{districts()[district_code].name}",
                    code="street_not_in_district",
                    field="street_code",
                )
    receipt = new_receipt()
    complaint = Complaint(
        id=uuid.uuid4(),
        receipt_sha256=receipt_hash(receipt),
        institution_id=data.institution_id,
        institution_name=institution_name,
        district_code=district_code,
        street_code=street_code,
        address=data.address,
        operator_name=data.operator_name,
        category=data.category,
        description=data.description,
        contact_encrypted=box.seal(data.contact) if data.contact else None,
        status="received",
        received_at=now,
    )
    await repository.add(session, complaint)
    await outbox.add(
        session,
        ComplaintReceivedV1(
            complaint_id=complaint.id,
            about="institution" if data.institution_id is not None else "address",
            institution_id=data.institution_id,
            district_code=district_code,
            street_code=street_code,
            category=data.category,
            anonymous=data.contact is None,
            received_at=now,
        ),
        subject=_key(complaint),
    )
    return complaint, receipt


def _key(complaint: Complaint) -> str:
    return str(complaint.institution_id or complaint.id)


# --- the complainant's view --------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicStatus:
    status: str
    received_on: date
    outcome_zh: str | None


async def public_status(session: AsyncSession, receipt: str) -> PublicStatus:
    complaint = await repository.by_receipt(session, receipt_hash(receipt))
    if complaint is None:
        raise ComplaintNotFound()
    status, outcome = complaint.status, complaint.public_reply
    if complaint.task_id is not None:
        result = await repository.published_result(session, complaint.task_id)
        if result is not None:
            status = "concluded"
            outcome = outcome or f"已开展定向检查，检查结论：{CONCLUSION_ZH[result.conclusion]}。{result.summary_zh}"
    if complaint.case_id is not None:
        case = await unlicensed_repository.get(session, complaint.case_id)
        if case is not None and case.status != "open":
            status = "concluded"
            outcome = outcome or (
                "经核查，该场所已依法办理托育机构备案。" if case.status == "filed" else "经核查，该场所已依法关停。"
            )
    if outcome is None:
        outcome = {
            "received": None,
            "investigating": "已立案核查，结果将在此公布。",
            "referred": "已转交有关部门依法处理。",
            "closed": "经核查，已办结。",
        }.get(status)
    return PublicStatus(status=status, received_on=china_today(complaint.received_at), outcome_zh=outcome)


# --- supervisors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageInput:
    action: str
    reason: str
    public_reply: str | None
    referred_to: str | None
    inspector_ids: list[uuid.UUID] | None
    due_by: date | None
    checklist_items: list[str] | None
    publication_working_days: int


async def get(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint:
    complaint = await repository.get(session, complaint_id)
    if complaint is None:
        raise ComplaintNotFound()
    return complaint


async def triage(
    session: AsyncSession, outbox: Outbox, complaint_id: uuid.UUID, data: TriageInput, *, by: str, now: datetime
) -> Complaint:
    complaint = await repository.get(session, complaint_id, lock=True)
    if complaint is None:
        raise ComplaintNotFound()
    if complaint.status != "received":
        raise ComplaintAlreadyTriaged()
    if data.action != "targeted_inspection":
        for name in ("inspector_ids", "due_by", "checklist_items"):
            if getattr(data, name) is not None:
                raise InvalidInput("只有定向检查需要填写检查组和期限", code="not_allowed", field=name)
    if data.action != "referral" and data.referred_to is not None:
        raise InvalidInput("只有转办需要填写承办部门", code="not_allowed", field="referred_to")
    if data.action == "targeted_inspection":
        if complaint.institution_id is None:
            raise InvalidInput(
                "投诉对象不是已备案机构，不能直接定向检查；请先立无证照机构案件（open_unlicensed_case），再对案件现场定向检查",
                code="institution_required",
                field="action",
            )
        if data.inspector_ids is None:
            raise InvalidInput("定向检查须指定检查组成员（至少2人）", code="missing", field="inspector_ids")
        if data.due_by is None:
            raise InvalidInput("定向检查须指定完成期限", code="missing", field="due_by")
        # the same code path as POST /v1/targeted-inspections (districts, conflicts, checklist)
        task = await tasks_service.create_targeted(
            session,
            outbox,
            tasks_service.TargetedInput(
                institution_id=complaint.institution_id,
                inspector_ids=list(data.inspector_ids),
                reason="complaint",
                reason_detail=f"投诉 {complaint.id}",
                due_by=data.due_by,
                checklist_items=data.checklist_items,
                follow_up_of=None,
                publication_working_days=data.publication_working_days,
            ),
            now=now,
        )
        complaint.task_id = task.id
        complaint.status = "investigating"
    elif data.action == "open_unlicensed_case":
        if complaint.institution_id is not None:
            raise InvalidInput(
                "投诉对象是已备案机构，不属于无证照机构；请选择定向检查", code="institution_is_filed", field="action"
            )
        case = await unlicensed_service.open_case(
            session,
            outbox,
            unlicensed_service.Site(
                district_code=complaint.district_code,
                street_code=complaint.street_code,
                address=complaint.address,
                operator_name=complaint.operator_name,
            ),
            source="complaint",
            complaint_id=complaint.id,
            by=by,
            now=now,
        )
        complaint.case_id = case.id
        complaint.status = "investigating"
    elif data.action == "referral":
        if data.referred_to is None:
            raise InvalidInput("转办须填写承办部门", code="missing", field="referred_to")
        complaint.referred_to = data.referred_to
        complaint.status = "referred"
    else:
        complaint.status = "closed"
    complaint.action = data.action
    complaint.triage_reason = data.reason
    complaint.public_reply = data.public_reply
    complaint.triaged_by = by
    complaint.triaged_at = now
    await session.flush()
    await outbox.add(
        session,
        ComplaintTriagedV1(
            complaint_id=complaint.id,
            action=data.action,
            district_code=complaint.district_code,
            institution_id=complaint.institution_id,
            task_id=complaint.task_id,
            case_id=complaint.case_id,
            referred_to=complaint.referred_to,
            triaged_by=by,
            triaged_at=now,
        ),
        subject=_key(complaint),
    )
    return complaint


async def page(
    session: AsyncSession, *, district: str | None, status: str | None, page: int, page_size: int
) -> tuple[Sequence[Complaint], int]:
    return await repository.page(
        session, district=district, status=status, offset=(page - 1) * page_size, limit=page_size
    )


@dataclass
class DistrictCounts:
    received: int = 0
    by_status: dict[str, int] | None = None
    by_category: dict[str, int] | None = None
    open_cases: int = 0


async def stats(session: AsyncSession, *, since: datetime | None, until: datetime | None) -> dict[str, DistrictCounts]:
    """Per district: complaints received in the window by status and category, and the unlicensed
    cases open now (a stock, not a flow: the window does not apply to it)."""
    out: dict[str, DistrictCounts] = defaultdict(DistrictCounts)
    for district, status, category, n in await repository.counts(session, since=since, until=until):
        c = out[district]
        c.received += n
        c.by_status = c.by_status or {}
        c.by_category = c.by_category or {}
        c.by_status[status] = c.by_status.get(status, 0) + n
        c.by_category[category] = c.by_category.get(category, 0) + n
    for district, n in (await unlicensed_repository.open_counts_by_district(session)).items():
        out[district].open_cases = n
    return dict(out)
