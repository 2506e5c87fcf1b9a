"""ledger leaf version 2 (per-field salted digests: the event's data and the salts kept beside the
leaf) and witness cosignatures of checkpoints

Revision ID: reporting_0008
Revises: reporting_0007
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reporting_0008"
down_revision: str | None = "reporting_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing entries are version 1 and stay so: their leaves are what the signed trees hold.
    op.add_column("ledger_entry", sa.Column("leaf_version", sa.SmallInteger(), server_default="1", nullable=False))
    op.add_column("ledger_entry", sa.Column("data", sa.LargeBinary(), nullable=True))
    op.add_column("ledger_entry", sa.Column("field_salts", sa.LargeBinary(), nullable=True))
    op.create_check_constraint(op.f("ck_ledger_entry_leaf_version_known"), "ledger_entry", "leaf_version IN (1, 2)")
    op.create_check_constraint(
        op.f("ck_ledger_entry_v2_keeps_fields"),
        "ledger_entry",
        "(leaf_version = 1) = (data IS NULL AND field_salts IS NULL)",
    )
    op.create_table(
        "ledger_cosignature",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "key_name", "key_id", name="pk_ledger_cosignature"),
        sa.ForeignKeyConstraint(
            ["tree_size"], ["ledger_checkpoint.tree_size"], name="fk_ledger_cosignature_tree_size_ledger_checkpoint"
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_cosignature")
    op.drop_constraint(op.f("ck_ledger_entry_v2_keeps_fields"), "ledger_entry", type_="check")
    op.drop_constraint(op.f("ck_ledger_entry_leaf_version_known"), "ledger_entry", type_="check")
    op.drop_column("ledger_entry", "field_salts")
    op.drop_column("ledger_entry", "data")
    op.drop_column("ledger_entry", "leaf_version")
