"""outbox, inbox

Revision ID: inspection_0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

from shared.migrate import create_messaging_tables, drop_messaging_tables

revision: str = "inspection_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
