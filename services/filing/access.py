"""District scope of the filing service's reads (shared.scope): a filing officer reads only the
institutions of the token's districts, their staff, annual reports and filing documents;
supervisors and operations read the whole city."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.errors import InstitutionNotFound
from services.filing.models import Institution
from shared.auth import Principal
from shared.scope import DistrictOutOfScope, read_scope, require_readable

# A document is in a reader's districts when an institution there names it, as filed or in a
# change awaiting its decision.
_DOCUMENT_IN_DISTRICTS = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM institution i, jsonb_each_text(i.documents) d
        WHERE d.value = :sha256 AND i.district_code = ANY(:districts)
    ) OR EXISTS (
        SELECT 1 FROM institution_change c JOIN institution i ON i.id = c.institution_id,
            jsonb_each_text(CASE WHEN jsonb_typeof(c.changes->'documents') = 'object'
                                 THEN c.changes->'documents' ELSE '{}'::jsonb END) d
        WHERE d.value = :sha256 AND i.district_code = ANY(:districts)
    )
    """
)


async def require_institution_readable(session: AsyncSession, reader: Principal, institution_id: uuid.UUID) -> None:
    """Refuse (403 ``district_out_of_scope``) a district-bound reader's read of an institution
    outside its districts; 404 when the institution does not exist. City-wide readers pass
    without a query."""
    if read_scope(reader) is None:
        return
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    require_readable(reader, institution.district_code, field="institution_id")


async def require_document_readable(
    session: AsyncSession, reader: Principal, sha256: str, uploaded_by: str | None
) -> None:
    """A district-bound reader downloads a document it uploaded itself or one that an institution
    of its districts names."""
    scope = read_scope(reader)
    if scope is None or uploaded_by == reader.subject:
        return
    found = (await session.execute(_DOCUMENT_IN_DISTRICTS, {"sha256": sha256, "districts": sorted(scope)})).scalar()
    if not found:
        raise DistrictOutOfScope("该材料不属于您辖区内的托育机构，无权查看", field="sha256")
