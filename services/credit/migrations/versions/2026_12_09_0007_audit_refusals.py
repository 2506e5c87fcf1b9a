"""audit trail: refused writes (outcome, error code) and the ids a request body names (shared.audit)

Revision ID: credit_0007
Revises: credit_0006
Create Date: 2026-12-09
"""

from collections.abc import Sequence

from alembic import op

from shared.audit import add_refusal_columns, drop_refusal_columns

revision: str = "credit_0007"
down_revision: str | None = "credit_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_refusal_columns(op)


def downgrade() -> None:
    drop_refusal_columns(op)
