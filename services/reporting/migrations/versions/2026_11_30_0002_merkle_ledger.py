"""Merkle ledger: canonical leaves, stored subtree hashes, signed checkpoints (replaces the 0001 ledger)

The platform has not gone live, so the 0001 ledger tables are dropped and recreated: entries are now
RFC 8785 canonical JSON leaves, and a rebuild from the topics reproduces them.

Revision ID: reporting_0002
Revises: reporting_0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reporting_0002"
down_revision: str | None = "reporting_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("ledger_entry")
    op.drop_table("ledger_head")
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("peaks", sa.LargeBinary, server_default=sa.text("''::bytea"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
        sa.CheckConstraint("size >= 0", name="ck_ledger_head_size_not_negative"),
    )
    op.execute("INSERT INTO ledger_head (id, size, peaks) VALUES (1, 0, ''::bytea)")
    op.create_table(
        "ledger_entry",
        sa.Column("index", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_source", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("index", name="pk_ledger_entry"),
        # an event enters the ledger once, even if the inbox were bypassed
        sa.UniqueConstraint("event_source", "event_id", name="uq_ledger_entry_event"),
        sa.CheckConstraint('"index" >= 0', name="ck_ledger_entry_index_not_negative"),
        sa.CheckConstraint("octet_length(leaf_hash) = 32", name="ck_ledger_entry_leaf_hash_length"),
    )
    # agency reads filter by granted types in index order
    op.create_index("ix_ledger_entry_type_index", "ledger_entry", ["event_type", "index"])
    op.create_table(
        "ledger_node",
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("index", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name="pk_ledger_node"),
        sa.CheckConstraint("level >= 1", name="ck_ledger_node_level_positive"),
        sa.CheckConstraint("octet_length(hash) = 32", name="ck_ledger_node_hash_length"),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("tree_size", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("key_name", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_ledger_checkpoint"),
        sa.CheckConstraint("tree_size >= 0", name="ck_ledger_checkpoint_size_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_node")
    op.drop_index("ix_ledger_entry_type_index", table_name="ledger_entry")
    op.drop_table("ledger_entry")
    op.drop_table("ledger_head")
    # the 0001 shape
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
        sa.CheckConstraint("id = 1", name="single_row"),
    )
    op.execute("INSERT INTO ledger_head (id, size) VALUES (1, 0)")
    op.create_table(
        "ledger_entry",
        sa.Column("index", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_source", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("index", name="pk_ledger_entry"),
        sa.UniqueConstraint("event_source", "event_id", name="uq_ledger_entry_event"),
    )
