"""plan.algorithm: the draw algorithm a plan is drawn with; plans created before are v1

Revision ID: inspection_0005
Revises: inspection_0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inspection_0005"
down_revision: str | None = "inspection_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every plan that exists before this revision was created (and, if drawn, drawn and published) under
# v1; it must keep being recomputed and verified with v1. New plans name their algorithm explicitly.
V1 = "gz-childcare-draw/v1"


def upgrade() -> None:
    op.add_column("plan", sa.Column("algorithm", sa.Text, nullable=False, server_default=V1))
    op.alter_column("plan", "algorithm", server_default=None)


def downgrade() -> None:
    op.drop_column("plan", "algorithm")
