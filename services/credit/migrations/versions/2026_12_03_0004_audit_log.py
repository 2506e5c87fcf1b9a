"""append-only audit trail of writes (shared.audit)

Revision ID: credit_0004
Revises: credit_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from shared.migrate import create_audit_table, drop_audit_table

revision: str = "credit_0004"
down_revision: str | None = "credit_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table(op, "credit")


def downgrade() -> None:
    drop_audit_table(op, "credit")
