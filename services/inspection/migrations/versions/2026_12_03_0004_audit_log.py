"""append-only audit trail of writes (shared.audit)

Revision ID: inspection_0004
Revises: inspection_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from shared.migrate import create_audit_table, drop_audit_table

revision: str = "inspection_0004"
down_revision: str | None = "inspection_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table(op, "inspection")


def downgrade() -> None:
    drop_audit_table(op, "inspection")
