"""complaints, rate buckets, unlicensed-operator cases and guidance steps, quality assessments

Revision ID: inspection_0003
Revises: inspection_0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "inspection_0003"
down_revision: str | None = "inspection_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "complaint",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("receipt_sha256", sa.Text, nullable=False),
        sa.Column("institution_id", sa.Uuid),
        sa.Column("institution_name", sa.Text),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("street_code", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("operator_name", sa.Text),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contact_encrypted", sa.LargeBinary),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("triage_reason", sa.Text),
        sa.Column("public_reply", sa.Text),
        sa.Column("referred_to", sa.Text),
        sa.Column("task_id", sa.Uuid),
        sa.Column("case_id", sa.Uuid),
        sa.Column("triaged_by", sa.Text),
        sa.Column("triaged_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_complaint"),
        sa.UniqueConstraint("receipt_sha256", name="uq_complaint_receipt_sha256"),
        sa.CheckConstraint(
            "status IN ('received', 'investigating', 'referred', 'closed')", name="ck_complaint_status_known"
        ),
        sa.CheckConstraint("institution_id IS NOT NULL OR address IS NOT NULL", name="ck_complaint_about_something"),
    )
    op.create_index("ix_complaint_district", "complaint", ["district_code", "received_at"])
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_bucket"),
    )
    op.create_table(
        "unlicensed_case",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("complaint_id", sa.Uuid),
        sa.Column("violation_id", sa.Uuid),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("street_code", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("operator_name", sa.Text),
        sa.Column("uscc", sa.Text),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("institution_id", sa.Uuid),
        sa.Column("enforcement", JSONB),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("closed_by", sa.Text),
        sa.Column("closed_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_unlicensed_case"),
        sa.CheckConstraint("status IN ('open', 'filed', 'closed_down')", name="ck_unlicensed_case_status_known"),
        sa.CheckConstraint("source IN ('complaint', 'inspection')", name="ck_unlicensed_case_source_known"),
        sa.CheckConstraint(
            "status <> 'filed' OR institution_id IS NOT NULL", name="ck_unlicensed_case_filed_has_institution"
        ),
        sa.CheckConstraint(
            "status <> 'closed_down' OR enforcement IS NOT NULL", name="ck_unlicensed_case_closed_down_has_record"
        ),
    )
    op.create_index("ix_unlicensed_case_district", "unlicensed_case", ["district_code", "status"])
    op.create_index("ix_unlicensed_case_uscc", "unlicensed_case", ["uscc"])
    op.create_table(
        "unlicensed_step",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title_zh", sa.Text, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("completed_by", sa.Text),
        sa.Column("completed_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_unlicensed_step"),
        sa.ForeignKeyConstraint(["case_id"], ["unlicensed_case.id"], name="fk_unlicensed_step_case_id_unlicensed_case"),
    )
    op.create_index("ix_unlicensed_step_case_id", "unlicensed_step", ["case_id"])
    op.create_index(
        "ix_unlicensed_step_open_due", "unlicensed_step", ["due_on"], postgresql_where=sa.text("completed_at IS NULL")
    )
    op.add_column("task", sa.Column("case_id", sa.Uuid))
    op.create_index("ix_task_case_id", "task", ["case_id"])
    op.create_table(
        "quality_scheme_use",
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("first_used_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_quality_scheme_use"),
    )
    op.create_table(
        "quality_assessment",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("scheme_version", sa.Text, nullable=False),
        sa.Column("scheme_sha256", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("answers", JSONB, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("veto_failed", sa.Boolean, nullable=False),
        sa.Column("veto_failed_items", ARRAY(sa.Text), nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.Column("assessed_by", sa.Text, nullable=False),
        sa.Column("assessed_at", TZ, nullable=False),
        sa.Column("reassess_by", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quality_assessment"),
        sa.CheckConstraint("kind IN ('self', 'onsite')", name="ck_quality_assessment_kind_known"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_quality_assessment_grade_known"),
    )
    op.create_index("ix_quality_assessment_institution", "quality_assessment", ["institution_id", "assessed_at"])


def downgrade() -> None:
    op.drop_index("ix_quality_assessment_institution", table_name="quality_assessment")
    op.drop_table("quality_assessment")
    op.drop_table("quality_scheme_use")
    op.drop_index("ix_task_case_id", table_name="task")
    op.drop_column("task", "case_id")
    op.drop_index("ix_unlicensed_step_open_due", table_name="unlicensed_step")
    op.drop_index("ix_unlicensed_step_case_id", table_name="unlicensed_step")
    op.drop_table("unlicensed_step")
    op.drop_index("ix_unlicensed_case_uscc", table_name="unlicensed_case")
    op.drop_index("ix_unlicensed_case_district", table_name="unlicensed_case")
    op.drop_table("unlicensed_case")
    op.drop_table("rate_bucket")
    op.drop_index("ix_complaint_district", table_name="complaint")
    op.drop_table("complaint")
