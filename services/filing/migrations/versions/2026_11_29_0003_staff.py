"""staff roster, industry-ban projection, staffing status

Revision ID: filing_0003
Revises: filing_0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "filing_0003"
down_revision: str | None = "filing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("person_ref", sa.Text, nullable=False),
        # AES-256-GCM ciphertext of the resident ID number; never the clear value
        sa.Column("id_number_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("id_masked", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("certificates", postgresql.JSONB, nullable=False),
        sa.Column("health_certificate_expires_on", sa.Date, nullable=False),
        sa.Column("training", postgresql.JSONB, nullable=False),
        sa.Column("hired_on", sa.Date, nullable=False),
        sa.Column("hired_by", sa.Text, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("left_reason", sa.Text),
        sa.Column("left_recorded_by", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_member"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_staff_member_institution_id_institution"
        ),
        sa.CheckConstraint(
            "role IN ('principal', 'carer', 'health', 'security', 'cook', 'other')",
            name="ck_staff_member_role_known",
        ),
        sa.CheckConstraint("left_on IS NULL OR left_on >= hired_on", name="ck_staff_member_left_after_hired"),
    )
    op.create_index("ix_staff_member_institution_id", "staff_member", ["institution_id"])
    op.create_index("ix_staff_member_person_ref", "staff_member", ["person_ref"])
    # one active employment per person and institution, race-safe
    op.create_index(
        "uq_staff_member_active_person",
        "staff_member",
        ["institution_id", "person_ref"],
        unique=True,
        postgresql_where=sa.text("left_on IS NULL"),
    )
    op.create_table(
        "banned_person",
        sa.Column("person_ref", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("banned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.Date),
        sa.Column("cause_event_id", sa.Text, nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True)),
        sa.Column("lift_reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("person_ref", name="pk_banned_person"),
    )
    op.create_table(
        "staffing_status",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.Column("shortfalls", postgresql.JSONB, nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_staffing_status"),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name="fk_staffing_status_institution_id_institution"
        ),
    )


def downgrade() -> None:
    op.drop_table("staffing_status")
    op.drop_table("banned_person")
    op.drop_index("uq_staff_member_active_person", table_name="staff_member")
    op.drop_index("ix_staff_member_person_ref", table_name="staff_member")
    op.drop_index("ix_staff_member_institution_id", table_name="staff_member")
    op.drop_table("staff_member")
