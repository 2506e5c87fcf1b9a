"""Photo evidence of field tasks (the inspectors' app), content-addressed per task

Revision ID: inspection_0009
Revises: inspection_0008
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inspection_0009"
down_revision: str | None = "inspection_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_evidence",
        sa.Column(
            "task_id", sa.Uuid, sa.ForeignKey("task.id", name=op.f("fk_task_evidence_task_id_task")), nullable=False
        ),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.Text, nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("media_type IN ('image/jpeg', 'image/png')", name=op.f("ck_task_evidence_media_type_known")),
        sa.PrimaryKeyConstraint("task_id", "sha256", name=op.f("pk_task_evidence")),
    )


def downgrade() -> None:
    op.drop_table("task_evidence")
