"""institution suspension (暂停收托) after a confirmed child-abuse case, with its two-officer decision

Revision ID: filing_0012
Revises: filing_0011
Create Date: 2026-12-13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "filing_0012"
down_revision: str | None = "filing_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'submitted', 'filed', 'returned', 'rejected', 'deregistered'"


def upgrade() -> None:
    op.drop_constraint("ck_institution_status_known", "institution", type_="check")
    op.create_check_constraint(
        op.f("ck_institution_status_known"), "institution", f"status IN ({STATUSES}, 'suspended')"
    )
    op.create_table(
        "institution_suspension",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("violation_id", sa.Uuid, nullable=False),
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_outcome", sa.Text, nullable=True),
        sa.Column("proposal_reason", sa.Text, nullable=True),
        sa.Column("proposed_by", sa.Text, nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("decided_by", sa.Text, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "proposed_outcome IS NULL OR proposed_outcome IN ('resume', 'deregister')",
            name=op.f("ck_institution_suspension_proposed_outcome_known"),
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('resume', 'deregister')",
            name=op.f("ck_institution_suspension_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_institution_suspension_institution_id_institution"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_institution_suspension"),
        sa.UniqueConstraint("violation_id", name="uq_institution_suspension_violation_id"),
    )
    op.create_index("ix_institution_suspension_institution_id", "institution_suspension", ["institution_id"])
    # at most one open suspension per institution
    op.create_index(
        "uq_institution_suspension_open",
        "institution_suspension",
        ["institution_id"],
        unique=True,
        postgresql_where=sa.text("decided_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("institution_suspension")
    op.execute("UPDATE institution SET status = 'filed' WHERE status = 'suspended'")
    op.drop_constraint("ck_institution_status_known", "institution", type_="check")
    op.create_check_constraint(op.f("ck_institution_status_known"), "institution", f"status IN ({STATUSES})")
