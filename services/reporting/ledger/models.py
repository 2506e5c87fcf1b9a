"""The shared ledger's tables (信息共享台账): its head, entries, Merkle tree nodes, checkpoints and
cosignatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.reporting.models import Base


class LedgerHead(Base):
    """One row. ``UPDATE … SET size = size + 1`` hands out gapless indexes under a row lock held to
    commit, so appends are serialized and entries become visible strictly in index order.
    ``peaks`` is the compact range of the tree (the complete-subtree hashes of the binary expansion
    of ``size``, largest first, concatenated): enough to append and to compute the current root."""

    __tablename__ = "ledger_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    peaks: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''::bytea"))


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("event_source", "event_id", name="uq_ledger_entry_event"),
        CheckConstraint("index >= 0", name="index_not_negative"),
        CheckConstraint("octet_length(leaf_hash) = 32", name="leaf_hash_length"),
        Index("ix_ledger_entry_type_index", "event_type", "index"),
        CheckConstraint("leaf_version IN (1, 2)", name="leaf_version_known"),
        CheckConstraint("(leaf_version = 1) = (data IS NULL AND field_salts IS NULL)", name="v2_keeps_fields"),
    )

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(Text)
    event_source: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The leaf's exact bytes: RFC 8785 canonical JSON of {id, source, type, subject, time, data}.
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)  # SHA-256(0x00 || leaf)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # services/reporting/leaves.py: 1 = the leaf holds the data; 2 = per-field salted digests, the
    # data (JCS) and the salts (JCS {path: salt}) kept here to disclose granted fields.
    leaf_version: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    field_salts: Mapped[bytes | None] = mapped_column(LargeBinary)


class LedgerNode(Base):
    """The hash of a complete subtree of 2^level leaves (level >= 1; level 0 is ledger_entry.leaf_hash),
    written once when its last leaf is appended and never changed. Proofs and the root of any tree
    size are computed from these: O(log n) reads instead of rehashing the whole log."""

    __tablename__ = "ledger_node"
    __table_args__ = (
        PrimaryKeyConstraint("level", "index", name="pk_ledger_node"),
        CheckConstraint("level >= 1", name="level_positive"),
        CheckConstraint("octet_length(hash) = 32", name="hash_length"),
    )

    level: Mapped[int] = mapped_column(SmallInteger)
    index: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint as a signed note), at most one per tree size."""

    __tablename__ = "ledger_checkpoint"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="size_not_negative"),)

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)  # the exact signed note served to clients
    key_name: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerCosignature(Base):
    """A witness's cosignature of a checkpoint (C2SP tlog-cosignature), accepted only from a key
    registered for the submitting agency and only if it verifies; at most one per witness key."""

    __tablename__ = "ledger_cosignature"
    __table_args__ = (PrimaryKeyConstraint("tree_size", "key_name", "key_id", name="pk_ledger_cosignature"),)

    tree_size: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_checkpoint.tree_size"))
    key_name: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(Text)  # 8 hex digits
    agency: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)  # seconds since the epoch, as signed
    signature: Mapped[str] = mapped_column(Text)  # the exact signature line, without its newline
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
