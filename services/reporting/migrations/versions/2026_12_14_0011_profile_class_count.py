"""The number of classes (班) of each profile version, for the plan's 幼儿园托班 count (500 / 700 / 1000)

Revision ID: reporting_0011
Revises: reporting_0010
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reporting_0011"
down_revision: str | None = "reporting_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # null for the versions projected before this column: `python -m services.reporting.rebuild` fills it
    op.add_column("proj_institution_profile", sa.Column("class_count", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("proj_institution_profile", "class_count")
