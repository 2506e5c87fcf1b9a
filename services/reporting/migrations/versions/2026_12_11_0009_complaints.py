"""Statistics projection of complaints (投诉): district, category, receipt and triage

Revision ID: reporting_0009
Revises: reporting_0008
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "reporting_0009"
down_revision: str | None = "reporting_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "proj_complaint",
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("triaged_at", TZ, nullable=True),
        sa.Column("action", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name="pk_proj_complaint"),
    )


def downgrade() -> None:
    op.drop_table("proj_complaint")
