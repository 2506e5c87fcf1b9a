"""index list stays by subject

Every evaluation reads a subject's stays (``memberships_of``, and the batch read-ahead for many
subjects at once); the only index led with ``list_name``, so each read scanned the whole table.

Revision ID: credit_0005
Revises: credit_0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "credit_0005"
down_revision: str | None = "credit_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_credit_list_membership_subject", "credit_list_membership", ["subject_kind", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_credit_list_membership_subject", table_name="credit_list_membership")
