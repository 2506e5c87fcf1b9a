"""Draw witnesses (algorithm v3): a plan's reveal time and grace period, its observers' commitments
and reveals

Revision ID: inspection_0008
Revises: inspection_0007
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inspection_0008"
down_revision: str | None = "inspection_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plan", sa.Column("reveal_not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("plan", sa.Column("withheld_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column("plan", sa.Column("witness_digest", sa.Text, nullable=True))
    op.create_table(
        "plan_observer",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column(
            "plan_id", sa.Uuid, sa.ForeignKey("plan.id", name=op.f("fk_plan_observer_plan_id_plan")), nullable=False
        ),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("commitment", sa.Text, nullable=False),
        sa.Column("registered_by", sa.Text, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("salt", sa.Text, nullable=True),
        sa.Column("revealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withheld", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_observer")),
        sa.UniqueConstraint("plan_id", "commitment", name="uq_plan_observer_commitment"),
    )
    op.create_index(op.f("ix_plan_observer_plan_id"), "plan_observer", ["plan_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_observer_plan_id"), table_name="plan_observer")
    op.drop_table("plan_observer")
    op.drop_column("plan", "witness_digest")
    op.drop_column("plan", "withheld_after")
    op.drop_column("plan", "reveal_not_before")
