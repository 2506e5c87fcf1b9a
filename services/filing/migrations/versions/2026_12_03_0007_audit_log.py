"""append-only audit trail of writes (shared.audit)

Revision ID: filing_0007
Revises: filing_0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from shared.migrate import create_audit_table, drop_audit_table

revision: str = "filing_0007"
down_revision: str | None = "filing_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table(op, "filing")


def downgrade() -> None:
    drop_audit_table(op, "filing")
