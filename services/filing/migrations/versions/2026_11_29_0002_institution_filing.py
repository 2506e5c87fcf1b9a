"""full institution filing: profile, classes, documents, decisions, changes

Revision ID: filing_0002
Revises: filing_0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "filing_0002"
down_revision: str | None = "filing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The backbone's minimal rows predate the full profile; the platform has not gone live, so the
    # table is rebuilt rather than back-filled with invented values.
    op.execute("DELETE FROM institution")
    add = [
        sa.Column("organiser_type", sa.Text, nullable=False),
        sa.Column("operating_model", sa.Text, nullable=False),
        sa.Column("service_types", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("premises_area_m2", sa.Float, nullable=False),
        sa.Column("classes", postgresql.JSONB, nullable=False),
        sa.Column("total_slots", sa.Integer, nullable=False),
        sa.Column("puhui_slots", sa.Integer, nullable=False),
        sa.Column("monthly_fee_yuan", sa.Integer, nullable=False),
        sa.Column("meals", sa.Boolean, nullable=False),
        sa.Column("contact_phone", sa.Text),
        sa.Column("documents", postgresql.JSONB, nullable=False),
        sa.Column("submission", sa.Integer, nullable=False, server_default="1"),
        sa.Column("decision_due", sa.Date),
        sa.Column("decision_due_provisional", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("filed_at", sa.DateTime(timezone=True)),
        sa.Column("deregistered_at", sa.DateTime(timezone=True)),
    ]
    for column in add:
        op.add_column("institution", column)
    op.create_check_constraint(
        op.f("ck_institution_puhui_within_total"), "institution", "puhui_slots BETWEEN 0 AND total_slots"
    )
    op.create_check_constraint(
        op.f("ck_institution_status_known"),
        "institution",
        "status IN ('submitted', 'filed', 'returned', 'rejected', 'deregistered')",
    )
    op.create_index("ix_institution_status_due", "institution", ["status", "decision_due"])
    op.create_table(
        "institution_change",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("changes", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_due", sa.Date, nullable=False),
        sa.Column("decision_due_provisional", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_institution_change"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_institution_change_institution_id_institution"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'returned', 'rejected')", name="ck_institution_change_status_known"
        ),
    )
    op.create_index("ix_institution_change_pending", "institution_change", ["institution_id", "status"])
    # at most one pending change per institution
    op.create_index(
        "uq_institution_change_one_pending",
        "institution_change",
        ["institution_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "institution_decision",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("change_id", sa.Uuid),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_institution_decision"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_institution_decision_institution_id_institution"
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["institution_change.id"], name="fk_institution_decision_change_id_institution_change"
        ),
    )
    op.create_index("ix_institution_decision_institution_id", "institution_decision", ["institution_id"])
    op.create_table(
        "document_blob",
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.Text, nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_document_blob"),
    )


def downgrade() -> None:
    op.drop_table("document_blob")
    op.drop_index("ix_institution_decision_institution_id", table_name="institution_decision")
    op.drop_table("institution_decision")
    op.drop_index("uq_institution_change_one_pending", table_name="institution_change")
    op.drop_index("ix_institution_change_pending", table_name="institution_change")
    op.drop_table("institution_change")
    op.drop_index("ix_institution_status_due", table_name="institution")
    op.drop_constraint("ck_institution_status_known", "institution", type_="check")
    op.drop_constraint("ck_institution_puhui_within_total", "institution", type_="check")
    for name in (
        "deregistered_at",
        "filed_at",
        "decided_at",
        "decision_due_provisional",
        "decision_due",
        "submission",
        "documents",
        "contact_phone",
        "meals",
        "monthly_fee_yuan",
        "puhui_slots",
        "total_slots",
        "classes",
        "premises_area_m2",
        "longitude",
        "latitude",
        "address",
        "service_types",
        "operating_model",
        "organiser_type",
    ):
        op.drop_column("institution", name)
