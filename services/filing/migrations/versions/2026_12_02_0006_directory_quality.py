"""directory: latest on-site quality assessment per institution

Revision ID: filing_0006
Revises: filing_0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0006"
down_revision: str | None = "filing_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_quality_grade",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("assessment_id", sa.Uuid, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("veto_failed", sa.Boolean, nullable=False),
        sa.Column("scheme_version", sa.Text, nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reassess_by", sa.Date, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_directory_quality_grade"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_directory_quality_grade_grade_known"),
    )


def downgrade() -> None:
    op.drop_table("directory_quality_grade")
