"""Inspector lifecycle: tasks flagged for reassignment, team members removed (回避, reassignment)

Revision ID: inspection_0006
Revises: inspection_0005
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inspection_0006"
down_revision: str | None = "inspection_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task", sa.Column("needs_reassignment", sa.Boolean, nullable=False, server_default=sa.false()))
    op.alter_column("task", "needs_reassignment", server_default=None)
    op.create_index(
        op.f("ix_task_needs_reassignment"),
        "task",
        ["needs_reassignment"],
        postgresql_where=sa.text("needs_reassignment"),
    )
    op.add_column("task_member", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("task_member", sa.Column("removed_reason", sa.Text, nullable=True))
    op.create_check_constraint(
        op.f("ck_task_member_removed_reason_known"),
        "task_member",
        "removed_reason IS NULL OR removed_reason IN ('conflict_of_interest', 'reassigned')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_task_member_removed_reason_known"), "task_member", type_="check")
    op.drop_column("task_member", "removed_reason")
    op.drop_column("task_member", "removed_at")
    op.drop_index("ix_task_needs_reassignment", table_name="task")
    op.drop_column("task", "needs_reassignment")
