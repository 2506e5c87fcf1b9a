"""credit facts that a replay reproduces in any order

* ``credit_repair`` loses its foreign key to ``credit_entry``: a replay reads the credit topic (repair
  events) independently of the inspection topic (the entry's cause), so a repair row can come first;
  it refers to the entry by its derived id (UUIDv5 of the fact) and takes effect once the entry exists.
* ``credit_entry`` keeps the fact only: ``policy_version``, ``points`` and ``counts_until`` (what the
  version known when recording said) are dropped — they depended on whether an activation had been
  seen yet — and ``legal_basis`` holds the event's own basis or NULL (the rule's, read from the
  policy in force). Evaluation always read these from the policy; nothing read the columns.
* indexes for the queries by subject (repairs) and by time (activations).

Revision ID: credit_0003
Revises: credit_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credit_0003"
down_revision: str | None = "credit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_credit_repair_entry_id_credit_entry", "credit_repair", type_="foreignkey")
    op.create_index("ix_credit_repair_subject", "credit_repair", ["subject_kind", "subject_id"])
    op.create_index("ix_credit_policy_activation_at", "credit_policy_activation", ["activated_at"])
    op.drop_column("credit_entry", "policy_version")
    op.drop_column("credit_entry", "points")
    op.drop_column("credit_entry", "counts_until")
    op.alter_column("credit_entry", "legal_basis", nullable=True)


def downgrade() -> None:
    # Lossy for rows written since the upgrade: the dropped columns are refilled with placeholders
    # (the policy never read them). The append-only trigger is paused for that one statement.
    op.add_column("credit_entry", sa.Column("policy_version", sa.Text))
    op.add_column("credit_entry", sa.Column("points", sa.Integer))
    op.add_column("credit_entry", sa.Column("counts_until", sa.DateTime(timezone=True)))
    op.execute("ALTER TABLE credit_entry DISABLE TRIGGER trg_credit_entry_append_only")
    op.execute("UPDATE credit_entry SET policy_version = 'v1', points = 0, legal_basis = coalesce(legal_basis, '')")
    op.execute("ALTER TABLE credit_entry ENABLE TRIGGER trg_credit_entry_append_only")
    op.alter_column("credit_entry", "policy_version", nullable=False)
    op.alter_column("credit_entry", "points", nullable=False)
    op.alter_column("credit_entry", "legal_basis", nullable=False)
    op.drop_index("ix_credit_policy_activation_at", table_name="credit_policy_activation")
    op.drop_index("ix_credit_repair_subject", table_name="credit_repair")
    # Fails while a repair still waits for its entry: resolve such rows before downgrading.
    op.create_foreign_key(
        "fk_credit_repair_entry_id_credit_entry", "credit_repair", "credit_entry", ["entry_id"], ["id"]
    )
