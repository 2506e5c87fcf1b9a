"""credit entries, repairs, standings, grade history, lists, policy activations

Revision ID: credit_0002
Revises: credit_0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "credit_0002"
down_revision: str | None = "credit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("credit_subject", sa.Column("profile_at", sa.DateTime(timezone=True)))
    op.add_column("credit_subject", sa.Column("deregistered_at", sa.DateTime(timezone=True)))

    op.create_table(
        "credit_entry",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("source_event_id", sa.Text, nullable=False),
        sa.Column("source_event_type", sa.Text, nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts_until", sa.DateTime(timezone=True)),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("detail_zh", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credit_entry"),
        sa.UniqueConstraint("subject_kind", "subject_id", "rule_id", "source_key", name="uq_credit_entry_source"),
        sa.CheckConstraint("subject_kind IN ('institution', 'person')", name="entry_subject_kind_known"),
    )
    op.create_index("ix_credit_entry_subject", "credit_entry", ["subject_kind", "subject_id"])
    # Append-only: corrections and repairs are new rows elsewhere, never edits of an entry.
    op.execute(
        """
        CREATE FUNCTION credit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'credit_entry is append-only (% refused)', TG_OP;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER trg_credit_entry_append_only BEFORE UPDATE OR DELETE ON credit_entry "
        "FOR EACH ROW EXECUTE FUNCTION credit_entry_append_only()"
    )

    op.create_table(
        "credit_repair",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("entry_id", sa.Uuid, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("evidence_sha256", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("commitment_zh", sa.Text, nullable=False),
        sa.Column("applied_by", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_credit_repair"),
        sa.ForeignKeyConstraint(["entry_id"], ["credit_entry.id"], name="fk_credit_repair_entry_id_credit_entry"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name="repair_status_known"),
    )
    # At most one open or granted repair per entry.
    op.create_index(
        "uq_credit_repair_entry_active",
        "credit_repair",
        ["entry_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'approved')"),
    )

    op.create_table(
        "credit_standing",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credit_standing"),
        sa.UniqueConstraint("subject_kind", "subject_id", name="uq_credit_standing_subject"),
    )

    op.create_table(
        "credit_grade_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("previous_grade", sa.Text),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credit_grade_history"),
    )
    op.create_index("ix_credit_grade_history_subject", "credit_grade_history", ["subject_kind", "subject_id"])

    op.create_table(
        "credit_list_membership",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("list_name", sa.Text, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True)),
        sa.Column("cause_entry_ids", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
        sa.Column("left_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_credit_list_membership"),
        sa.CheckConstraint("list_name IN ('serious_dishonesty', 'industry_ban')", name="list_name_known"),
    )
    op.create_index(
        "uq_credit_list_membership_current",
        "credit_list_membership",
        ["list_name", "subject_kind", "subject_id"],
        unique=True,
        postgresql_where=sa.text("left_at IS NULL"),
    )

    op.create_table(
        "credit_policy_activation",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("activated_by", sa.Text, nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credit_policy_activation"),
    )


def downgrade() -> None:
    op.drop_table("credit_policy_activation")
    op.drop_index("uq_credit_list_membership_current", table_name="credit_list_membership")
    op.drop_table("credit_list_membership")
    op.drop_index("ix_credit_grade_history_subject", table_name="credit_grade_history")
    op.drop_table("credit_grade_history")
    op.drop_table("credit_standing")
    op.drop_index("uq_credit_repair_entry_active", table_name="credit_repair")
    op.drop_table("credit_repair")
    op.execute("DROP TRIGGER trg_credit_entry_append_only ON credit_entry")
    op.execute("DROP FUNCTION credit_entry_append_only()")
    op.drop_index("ix_credit_entry_subject", table_name="credit_entry")
    op.drop_table("credit_entry")
    op.drop_column("credit_subject", "deregistered_at")
    op.drop_column("credit_subject", "profile_at")
