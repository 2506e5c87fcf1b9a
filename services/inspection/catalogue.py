"""Read-only public API of the checklist and the violation catalogue (versioned reference data).

A basis the data marks as unverified (CATALOGUE-NOTES.md §3 tags) is shown with
``basis_verified: false`` and a Chinese note per tag, so nobody quotes it as settled law.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from services.inspection.reference import (
    CATALOGUE_FILE,
    CHECKLIST_FILE,
    catalogue_version,
    checklist,
    file_hashes,
    violation_catalogue,
)

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])
# A URL naming the version it wants names content that never changes: a browser (the inspectors' app)
# may keep it for a year without asking. Without a version (or another one) the answer is the current
# content, revalidated with its ETag (shared/wire.py).
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
VersionQuery = Annotated[
    str | None,
    Query(description="the catalogue version the caller wants; the current one makes the answer cacheable for a year"),
]


def _cache(response: Response, version: str | None) -> None:
    response.headers["cache-control"] = IMMUTABLE if version == catalogue_version() else REVALIDATE


SOURCE_NOTE_ZH = (
    "草拟参考数据，非法律意见：来源见 shared/reference_data/CATALOGUE-NOTES.md；"
    "标注“未核实”的依据在写入执法文书前须与官方文本核对"
)


class BasisOut(BaseModel):
    basis: str
    basis_verified: bool = Field(description="false: a tag in the data says the basis was not checked")
    recommended_standard: bool = Field(description="the basis is a recommended (推荐性) standard")
    basis_notes_zh: list[str]
    source: str


class ChecklistItemOut(BasisOut):
    item_code: str
    area: str
    item_zh: str


class ViolationTypeOut(BasisOut):
    code: str
    title_zh: str
    severity: Literal["minor", "general", "serious", "critical"]
    default_rectification_days: int


class ChecklistOut(BaseModel):
    version: str
    file: str
    sha256: str
    note_zh: str
    unverified_count: int
    items: list[ChecklistItemOut]


class ViolationCatalogueOut(BaseModel):
    version: str
    file: str
    sha256: str
    note_zh: str
    unverified_count: int
    items: list[ViolationTypeOut]


@router.get("/checklist", response_model=ChecklistOut, summary="随机抽查事项清单 (public, versioned)")
async def get_checklist(response: Response, version: VersionQuery = None) -> ChecklistOut:
    _cache(response, version)
    items = []
    for c in checklist().values():
        flags = c.flags
        items.append(
            ChecklistItemOut(
                item_code=c.code,
                area=c.area,
                item_zh=c.item_zh,
                basis=c.basis,
                basis_verified=flags.verified,
                recommended_standard=flags.recommended_standard,
                basis_notes_zh=list(flags.notes_zh),
                source=c.source,
            )
        )
    return ChecklistOut(
        version=catalogue_version(),
        file=CHECKLIST_FILE,
        sha256=file_hashes()[CHECKLIST_FILE],
        note_zh=SOURCE_NOTE_ZH,
        unverified_count=sum(1 for i in items if not i.basis_verified),
        items=items,
    )


@router.get("/violations", response_model=ViolationCatalogueOut, summary="违规行为目录 (public, versioned)")
async def get_violations(response: Response, version: VersionQuery = None) -> ViolationCatalogueOut:
    _cache(response, version)
    items = []
    for v in violation_catalogue().values():
        flags = v.flags
        items.append(
            ViolationTypeOut(
                code=v.code,
                title_zh=v.title_zh,
                severity=v.severity,
                default_rectification_days=v.default_rectification_days,
                basis=v.legal_basis,
                basis_verified=flags.verified,
                recommended_standard=flags.recommended_standard,
                basis_notes_zh=list(flags.notes_zh),
                source=v.source,
            )
        )
    return ViolationCatalogueOut(
        version=catalogue_version(),
        file=CATALOGUE_FILE,
        sha256=file_hashes()[CATALOGUE_FILE],
        note_zh=SOURCE_NOTE_ZH,
        unverified_count=sum(1 for i in items if not i.basis_verified),
        items=items,
    )
