"""proj_staff.training_hours (StaffHiredV1 now carries the recorded training hours)

Revision ID: reporting_0004
Revises: reporting_0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reporting_0004"
down_revision: str | None = "reporting_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("proj_staff", sa.Column("training_hours", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("proj_staff", "training_hours")
