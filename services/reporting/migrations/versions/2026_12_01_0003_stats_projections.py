"""Statistics projections: institutions and their profile versions, staff, annual reports,
inspections, violations and credit grades, projected from the domain events

Revision ID: reporting_0003
Revises: reporting_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "reporting_0003"
down_revision: str | None = "reporting_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
ID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "proj_institution",
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("district_code", sa.Text, nullable=True),
        sa.Column("street_code", sa.Text, nullable=True),
        sa.Column("identity_at", TZ, nullable=True),
        sa.Column("last_submitted_at", TZ, nullable=True),
        sa.Column("returned_at", TZ, nullable=True),
        sa.Column("rejected_at", TZ, nullable=True),
        sa.Column("filed_at", TZ, nullable=True),
        sa.Column("deregistered_at", TZ, nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_proj_institution"),
    )
    op.create_table(
        "proj_institution_profile",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("effective_at", TZ, nullable=False),
        sa.Column("rank", sa.SmallInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("operating_model", sa.Text, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("street_code", sa.Text, nullable=False),
        sa.Column("total_slots", sa.Integer, nullable=False),
        sa.Column("puhui_slots", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_proj_institution_profile"),
        sa.CheckConstraint("rank BETWEEN 0 AND 2", name="ck_proj_institution_profile_rank_known"),
    )
    # "the version in force at time T": the newest version before T, per institution
    op.create_index(
        "ix_proj_institution_profile_institution_effective",
        "proj_institution_profile",
        ["institution_id", "effective_at"],
    )
    op.create_table(
        "proj_staff",
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("role", sa.Text, nullable=True),
        sa.Column("hired_on", sa.Date, nullable=True),
        sa.Column("left_on", sa.Date, nullable=True),
        sa.Column("certificates", postgresql.JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name="pk_proj_staff"),
    )
    op.create_index("ix_proj_staff_institution", "proj_staff", ["institution_id"])
    op.create_table(
        "proj_annual_report",
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("year", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("submitted_at", TZ, nullable=True),
        sa.Column("on_time", sa.Boolean, nullable=True),
        sa.Column("overdue_due_date", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("institution_id", "year", name="pk_proj_annual_report"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="ck_proj_annual_report_year_range"),
    )
    op.create_table(
        "proj_inspection",
        sa.Column("task_id", ID, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("conclusion", sa.Text, nullable=False),
        sa.Column("violation_count", sa.Integer, nullable=False),
        sa.Column("inspected_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_proj_inspection"),
    )
    op.create_index("ix_proj_inspection_institution", "proj_inspection", ["institution_id"])
    op.create_table(
        "proj_violation",
        sa.Column("violation_id", ID, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("code", sa.Text, nullable=True),
        sa.Column("title_zh", sa.Text, nullable=True),
        sa.Column("severity", sa.Text, nullable=True),
        sa.Column("confirmed_at", TZ, nullable=True),
        sa.Column("rectification_due", sa.Date, nullable=True),
        sa.Column("escalated_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("violation_id", name="pk_proj_violation"),
    )
    op.create_index("ix_proj_violation_institution", "proj_violation", ["institution_id"])
    op.create_table(
        "proj_credit_grade",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("graded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_proj_credit_grade"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_proj_credit_grade_grade_known"),
    )
    op.create_index("ix_proj_credit_grade_institution_graded", "proj_credit_grade", ["institution_id", "graded_at"])


def downgrade() -> None:
    op.drop_index("ix_proj_credit_grade_institution_graded", table_name="proj_credit_grade")
    op.drop_table("proj_credit_grade")
    op.drop_index("ix_proj_violation_institution", table_name="proj_violation")
    op.drop_table("proj_violation")
    op.drop_index("ix_proj_inspection_institution", table_name="proj_inspection")
    op.drop_table("proj_inspection")
    op.drop_table("proj_annual_report")
    op.drop_index("ix_proj_staff_institution", table_name="proj_staff")
    op.drop_table("proj_staff")
    op.drop_index("ix_proj_institution_profile_institution_effective", table_name="proj_institution_profile")
    op.drop_table("proj_institution_profile")
    op.drop_table("proj_institution")
