"""Draw beacon (algorithm v3): a plan's public randomness beacon round, fixed at the commit, and the
round's signature and randomness accepted at the draw

Revision ID: inspection_0010
Revises: inspection_0009
Create Date: 2026-12-13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "inspection_0010"
down_revision: str | None = "inspection_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # null for plans without a beacon (every plan committed before this migration)
    op.add_column("plan", sa.Column("beacon", postgresql.JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("plan", "beacon")
