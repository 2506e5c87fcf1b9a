"""append-only audit trail of writes (shared.audit)

Revision ID: reporting_0005
Revises: reporting_0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from shared.migrate import create_audit_table, drop_audit_table

revision: str = "reporting_0005"
down_revision: str | None = "reporting_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table(op, "reporting")


def downgrade() -> None:
    drop_audit_table(op, "reporting")
