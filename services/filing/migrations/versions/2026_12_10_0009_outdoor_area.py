"""institution: the outdoor play area (户外活动场地面积, m²), optional

Revision ID: filing_0009
Revises: filing_0008
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0009"
down_revision: str | None = "filing_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable, no default: filings before the field was asked for have not stated it
    op.add_column("institution", sa.Column("outdoor_area_m2", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("institution", "outdoor_area_m2")
