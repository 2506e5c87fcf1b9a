"""credit subjects, outbox, inbox

Revision ID: credit_0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrate import create_messaging_tables, drop_messaging_tables

revision: str = "credit_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_subject",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text),
        sa.Column("district_code", sa.Text),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by_event_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credit_subject"),
        sa.UniqueConstraint("subject_kind", "subject_id", name="uq_credit_subject_kind_id"),
        sa.CheckConstraint("subject_kind IN ('institution', 'person')", name="subject_kind_known"),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    op.drop_table("credit_subject")
