"""RFC 6962 Merkle tree hashing, proofs and their verification. Pure: no I/O.

Hashes: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right), empty tree =
SHA-256(""). A tree of n > 1 leaves splits at k, the largest power of two strictly below n.

Storage model: the hash of every *complete, aligned* subtree (level L, index i) covering leaves
[i * 2^L, (i + 1) * 2^L) is final once its last leaf is appended, so it can be stored once and never
changes. Every range a proof needs, and the root of any tree size, is computed from such subtrees:
``subtrees(lo, hi)`` lists the ones needed, the caller fetches them, ``range_hash`` combines them.
Proofs come out in RFC order (leaf's sibling first, the root's child last), which is also what Go's
``tlog.RecordProof`` / ``tlog.TreeProof`` hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): the complete subtree of 2^level leaves starting at index << level
NodeReader = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    if n < 2:
        raise ValueError("split needs n >= 2")
    return 1 << ((n - 1).bit_length() - 1)


def _aligned_level(lo: int, hi: int) -> int | None:
    width = hi - lo
    if width > 0 and width & (width - 1) == 0 and lo % width == 0:
        return width.bit_length() - 1
    return None


def subtrees(lo: int, hi: int) -> list[Node]:
    """The complete aligned subtrees whose hashes determine MTH(D[lo:hi]), following the RFC split."""
    if not 0 <= lo < hi:
        raise ValueError(f"empty or negative range [{lo}, {hi})")
    level = _aligned_level(lo, hi)
    if level is not None:
        return [(level, lo >> level)]
    k = split(hi - lo)
    return subtrees(lo, lo + k) + subtrees(lo + k, hi)


def range_hash(lo: int, hi: int, read: NodeReader) -> bytes:
    """MTH(D[lo:hi]) from stored complete-subtree hashes."""
    level = _aligned_level(lo, hi)
    if level is not None:
        return read(level, lo >> level)
    k = split(hi - lo)
    return node_hash(range_hash(lo, lo + k, read), range_hash(lo + k, hi, read))


def root_ranges(size: int) -> list[tuple[int, int]]:
    return [(0, size)] if size > 0 else []


def root_hash(size: int, read: NodeReader) -> bytes:
    return range_hash(0, size, read) if size > 0 else EMPTY_ROOT


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 6962 PATH(index, D[size]) as the leaf ranges whose hashes form the audit path."""
    if not 0 <= index < size:
        raise ValueError("inclusion proof needs 0 <= index < size")

    def path(lo: int, hi: int) -> list[tuple[int, int]]:
        if hi - lo == 1:
            return []
        k = split(hi - lo)
        if index < lo + k:
            return [*path(lo, lo + k), (lo + k, hi)]
        return [*path(lo + k, hi), (lo, lo + k)]

    return path(0, size)


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """RFC 6962 PROOF(old, D[new]) as leaf ranges; empty for old == new. Undefined for old == 0."""
    if not 0 < old <= new:
        raise ValueError("consistency proof needs 0 < old <= new")

    def subproof(lo: int, hi: int, whole: bool) -> list[tuple[int, int]]:
        if old == hi:
            return [] if whole else [(lo, hi)]
        k = split(hi - lo)
        if old <= lo + k:
            return [*subproof(lo, lo + k, whole), (lo + k, hi)]
        return [*subproof(lo + k, hi, False), (lo, lo + k)]

    return subproof(0, new, True)


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {node for lo, hi in ranges for node in subtrees(lo, hi)}


def hashes_for(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    return [range_hash(lo, hi, read) for lo, hi in ranges]


# --- building: the compact range ("peaks") of an append-only tree ----------------------------------


def fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """The root of a tree from its peaks (largest first): fold from the right."""
    if not peaks:
        return EMPTY_ROOT
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


def append_leaf(size: int, peaks: Sequence[bytes], leaf: bytes) -> tuple[list[bytes], list[tuple[Node, bytes]]]:
    """Append a leaf hash to a tree of ``size`` leaves with the given peaks.

    Returns the new peaks and every complete subtree this leaf completes (level >= 1), which are
    final from now on and may be stored."""
    if len(peaks) != bin(size).count("1"):
        raise ValueError("peaks do not match the tree size")
    stack = list(peaks)
    completed: list[tuple[Node, bytes]] = []
    current, level, position = leaf, 0, size
    while position & 1:  # the new leaf closes one subtree per trailing 1 bit of the old size
        current = node_hash(stack.pop(), current)
        level += 1
        position >>= 1
        completed.append(((level, position), current))
    stack.append(current)
    return stack, completed


def root_of_leaves(leaves: Iterable[bytes]) -> bytes:
    """Straight from leaf hashes (RFC 9162 §2.1.2), for verification and rebuilds."""
    peaks: list[bytes] = []
    size = 0
    for leaf in leaves:
        peaks, _ = append_leaf(size, peaks, leaf)
        size += 1
    return fold_peaks(peaks)


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    if not 0 <= index < size or len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != HASH_SIZE or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, path: Sequence[bytes]) -> bool:
    if len(first_hash) != HASH_SIZE or len(second_hash) != HASH_SIZE or any(len(c) != HASH_SIZE for c in path):
        return False
    if first == second:
        return first >= 1 and not path and first_hash == second_hash
    if not 0 < first < second or not path:
        return False
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes = [first_hash, *nodes]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
