"""Statistics projection of suspensions (暂停收托): each suspended/resumed change per event

Revision ID: reporting_0010
Revises: reporting_0009
Create Date: 2026-12-13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "reporting_0010"
down_revision: str | None = "reporting_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proj_suspension",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("institution_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_proj_suspension"),
    )
    op.create_index("ix_proj_suspension_institution_changed", "proj_suspension", ["institution_id", "changed_at"])


def downgrade() -> None:
    op.drop_table("proj_suspension")
