"""annual_reports

Revision ID: filing_0004
Revises: filing_0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "filing_0004"
down_revision: str | None = "filing_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annual_report",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("enrolment", postgresql.JSONB, nullable=False),
        sa.Column("enrolled_children", sa.Integer, nullable=False),
        sa.Column("staff", postgresql.JSONB, nullable=False),
        sa.Column("staff_count", sa.Integer, nullable=False),
        sa.Column("incidents", sa.Integer, nullable=False),
        sa.Column("incident_descriptions", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("monthly_fee_yuan", sa.Integer, nullable=False),
        sa.Column("puhui_monthly_fee_yuan", sa.Integer),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annual_report"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_annual_report_institution_id_institution"
        ),
        # one report per institution and year; also the index for "has it reported for Y?"
        sa.UniqueConstraint("institution_id", "year", name="uq_annual_report_institution_id_year"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="ck_annual_report_year_range"),
        sa.CheckConstraint(
            "enrolled_children >= 0 AND staff_count >= 0 AND incidents >= 0 AND monthly_fee_yuan >= 0"
            " AND (puhui_monthly_fee_yuan IS NULL OR puhui_monthly_fee_yuan >= 0)",
            name="ck_annual_report_counts_non_negative",
        ),
    )
    # the completion statistics read one year at a time
    op.create_index("ix_annual_report_year", "annual_report", ["year"])
    op.create_table(
        "annual_report_overdue",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annual_report_overdue"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_annual_report_overdue_institution_id_institution"
        ),
        # the sweep's INSERT … ON CONFLICT relies on this: one mark (and one event) per institution-year
        sa.UniqueConstraint("institution_id", "year", name="uq_annual_report_overdue_institution_id_year"),
    )
    op.create_index("ix_annual_report_overdue_year", "annual_report_overdue", ["year"])


def downgrade() -> None:
    op.drop_index("ix_annual_report_overdue_year", table_name="annual_report_overdue")
    op.drop_table("annual_report_overdue")
    op.drop_index("ix_annual_report_year", table_name="annual_report")
    op.drop_table("annual_report")
