"""every confirmed child-abuse case of a suspension (暂停收托), not only the one that began it

Revision ID: filing_0013
Revises: filing_0012
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0013"
down_revision: str | None = "filing_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "institution_suspension_case",
        sa.Column("violation_id", sa.Uuid, nullable=False),
        sa.Column("suspension_id", sa.Uuid, nullable=False),
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["suspension_id"],
            ["institution_suspension.id"],
            name="fk_institution_suspension_case_suspension_id",
        ),
        sa.PrimaryKeyConstraint("violation_id", name="pk_institution_suspension_case"),
    )
    op.create_index("ix_institution_suspension_case_suspension_id", "institution_suspension_case", ["suspension_id"])
    # the case that began each existing suspension
    op.execute(
        "INSERT INTO institution_suspension_case (violation_id, suspension_id, task_id, confirmed_at, recorded_at) "
        "SELECT violation_id, id, task_id, suspended_at, suspended_at FROM institution_suspension"
    )


def downgrade() -> None:
    op.drop_table("institution_suspension_case")
