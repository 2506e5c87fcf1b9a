"""directory

Revision ID: filing_0005
Revises: filing_0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0005"
down_revision: str | None = "filing_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_credit_grade",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_directory_credit_grade"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_directory_credit_grade_grade_known"),
    )
    op.create_table(
        "directory_inspection_result",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("conclusion", sa.Text, nullable=False),
        sa.Column("violation_count", sa.Integer, nullable=False),
        sa.Column("summary_zh", sa.Text, nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_directory_inspection_result"),
        sa.CheckConstraint(
            "conclusion IN ('compliant', 'rectification_required', 'non_compliant')",
            name="ck_directory_inspection_result_conclusion_known",
        ),
    )
    # Serves the bounding-box pre-filter of the public "near" search (filed institutions only).
    op.create_index(
        "ix_institution_filed_location",
        "institution",
        ["latitude", "longitude"],
        postgresql_where=sa.text("status = 'filed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_institution_filed_location", table_name="institution")
    op.drop_table("directory_inspection_result")
    op.drop_table("directory_credit_grade")
