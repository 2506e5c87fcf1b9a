"""Time-ordered identifiers (UUID version 7, RFC 9562 §5.7) for the events the services publish.

An event id is a key in several B-tree indexes (each consumer's inbox, the ledger's (source, id), the
outbox, projection rows keyed by event). A random (version 4) id lands on a random leaf page of each:
once an index outgrows memory, every insert reads a cold page and, after each checkpoint, writes a
full-page image to the WAL, so the cost per event grows with the size of the log. A version-7 id
starts with its Unix time in milliseconds, so new ids land on the right-hand edge of the index, the
pages already in memory. Nothing relies on the order of ids for correctness; uniqueness is what
matters, and 74 random bits per millisecond keep that.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A version-7 UUID: 48 bits of Unix time in ms, version, 12 random bits, variant, 62 random bits."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError("unix_ms out of range for a version-7 UUID")
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
