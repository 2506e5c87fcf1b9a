"""institution: the public record's facts (普惠 fee, hours, public phone); name search index

Revision ID: filing_0010
Revises: filing_0009
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0010"
down_revision: str | None = "filing_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable, no default: filings before the fields were asked for have not stated them
    op.add_column("institution", sa.Column("puhui_monthly_fee_yuan", sa.Integer(), nullable=True))
    op.add_column("institution", sa.Column("opening_hours", sa.Text(), nullable=True))
    op.add_column("institution", sa.Column("public_phone", sa.Text(), nullable=True))
    # The directory's name search (q=) is a substring match (ILIKE '%…%'), which only a trigram
    # index serves. pg_trgm is a trusted extension: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_institution_filed_name_trgm ON institution USING gin (name gin_trgm_ops)"
        " WHERE status = 'filed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_institution_filed_name_trgm")
    op.drop_column("institution", "public_phone")
    op.drop_column("institution", "opening_hours")
    op.drop_column("institution", "puhui_monthly_fee_yuan")
