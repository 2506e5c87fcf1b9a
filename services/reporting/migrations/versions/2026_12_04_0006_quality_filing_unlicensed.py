"""Statistics projections for quality assessments, filing decisions (备案通过率) and
unlicensed-operator cases (无证照治理)

Revision ID: reporting_0006
Revises: reporting_0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "reporting_0006"
down_revision: str | None = "reporting_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
ID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "proj_filing_decision",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_proj_filing_decision"),
        sa.CheckConstraint(
            "outcome IN ('filed', 'returned', 'rejected')", name="ck_proj_filing_decision_outcome_known"
        ),
    )
    # the decisions of one year
    op.create_index("ix_proj_filing_decision_decided", "proj_filing_decision", ["decided_at"])
    op.create_table(
        "proj_quality_assessment",
        sa.Column("assessment_id", ID, nullable=False),
        sa.Column("institution_id", ID, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("assessed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("assessment_id", name="pk_proj_quality_assessment"),
        sa.CheckConstraint("kind IN ('self', 'onsite')", name="ck_proj_quality_assessment_kind_known"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_proj_quality_assessment_grade_known"),
    )
    # "the newest on-site assessment before T", per institution
    op.create_index(
        "ix_proj_quality_assessment_institution_assessed",
        "proj_quality_assessment",
        ["institution_id", "assessed_at"],
    )
    op.create_table(
        "proj_unlicensed_case",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_proj_unlicensed_case"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('filed', 'closed_down')", name="ck_proj_unlicensed_case_outcome_known"
        ),
    )


def downgrade() -> None:
    op.drop_table("proj_unlicensed_case")
    op.drop_index("ix_proj_quality_assessment_institution_assessed", table_name="proj_quality_assessment")
    op.drop_table("proj_quality_assessment")
    op.drop_index("ix_proj_filing_decision_decided", table_name="proj_filing_decision")
    op.drop_table("proj_filing_decision")
