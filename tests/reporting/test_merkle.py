"""RFC 6962 hashing and proofs against the published vectors and a naive reference. No I/O."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.ledger import merkle

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes.fromhex("606162636465666768696a6b6c6d6e6f")
]
ROOTS = {  # transparency-dev/merkle RootHashes(), sizes 0..8
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# RFC 6962 §2.1.3 letters with the values of reference-ledger.md §7.5
L = {
    k: bytes.fromhex(v)
    for k, v in {
        "a": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "b": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "c": "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "d": "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "f": "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "g": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "h": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "i": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "j": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "k": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "l": "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
    }.items()
}


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = merkle.split(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_mth(leaves)]
    k = merkle.split(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


class Tree:
    """Stores what the service stores: leaf hashes and the complete subtrees appends produce."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[merkle.Node, bytes] = {}
        self.peaks: list[bytes] = []
        for i, leaf in enumerate(leaves):
            digest = merkle.leaf_hash(leaf)
            self.nodes[(0, i)] = digest
            self.peaks, completed = merkle.append_leaf(i, self.peaks, digest)
            self.nodes.update(dict(completed))
        self.size = len(leaves)

    def read(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def root(self, size: int) -> bytes:
        return merkle.root_hash(size, self.read)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return merkle.hashes_for(merkle.inclusion_ranges(index, size), self.read)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return merkle.hashes_for(merkle.consistency_ranges(old, new), self.read)


TREE = Tree(LEAVES)


def test_hash_primitives() -> None:
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle.leaf_hash(b"").hex() == ROOTS[1]
    assert merkle.leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert (
        merkle.node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )
    assert base64.b64encode(merkle.leaf_hash(b"hello world")).decode() == "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="
    assert [merkle.split(n) for n in (2, 3, 4, 5, 8, 9)] == [1, 2, 2, 4, 4, 8]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_every_size_match_the_vectors(size: int) -> None:
    assert TREE.root(size).hex() == ROOTS[size]
    assert merkle.root_of_leaves(merkle.leaf_hash(x) for x in LEAVES[:size]).hex() == ROOTS[size]
    assert naive_mth(LEAVES[:size]).hex() == ROOTS[size]
    assert merkle.fold_peaks(Tree(LEAVES[:size]).peaks).hex() == ROOTS[size]


def test_rfc_6962_example_proofs() -> None:
    assert TREE.inclusion(0, 7) == [L["b"], L["h"], L["l"]]
    assert TREE.inclusion(3, 7) == [L["c"], L["g"], L["l"]]
    assert TREE.inclusion(4, 7) == [L["f"], L["j"], L["k"]]
    assert TREE.inclusion(6, 7) == [L["i"], L["k"]]
    assert TREE.consistency(3, 7) == [L["c"], L["d"], L["g"], L["l"]]
    assert TREE.consistency(4, 7) == [L["l"]]
    assert TREE.consistency(6, 7) == [L["i"], L["j"], L["k"]]


B64 = base64.b64decode


def test_transparency_dev_inclusion_and_consistency_vectors() -> None:
    root8 = bytes.fromhex(ROOTS[8])
    proof = [
        B64("vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="),
        B64("yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA="),
        B64("037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="),
    ]
    leaf5 = B64("QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=")
    assert TREE.inclusion(5, 8) == proof
    assert merkle.verify_inclusion(5, 8, leaf5, proof, root8)
    consistency = [B64("DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o="), proof[1], proof[2]]
    assert TREE.consistency(6, 8) == consistency
    assert merkle.verify_consistency(6, 8, bytes.fromhex(ROOTS[6]), root8, consistency)
    assert TREE.consistency(2, 5) == [
        L["h"],
        bytes.fromhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]
    assert merkle.verify_inclusion(0, 1, bytes.fromhex(ROOTS[1]), [], bytes.fromhex(ROOTS[1]))
    assert merkle.verify_consistency(1, 1, bytes.fromhex(ROOTS[1]), bytes.fromhex(ROOTS[1]), [])


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x08]) + h[1:]


def test_mutated_inclusion_proofs_fail() -> None:
    root8, leaf = bytes.fromhex(ROOTS[8]), merkle.leaf_hash(LEAVES[5])
    proof = TREE.inclusion(5, 8)
    assert merkle.verify_inclusion(5, 8, leaf, proof, root8)
    bad = [
        (6, 8, leaf, proof, root8),  # index + 1
        (4, 8, leaf, proof, root8),
        (7, 8, leaf, proof, root8),  # index XOR 2
        (5, 16, leaf, proof, root8),
        (5, 4, leaf, proof, root8),
        (5, 8, leaf, [proof[0], b"\xab" * 32, *proof[1:]], root8),
        (5, 8, leaf, proof[:-1], root8),
        (5, 8, leaf, [b"", *proof], root8),
        (5, 8, leaf, [*proof, b""], root8),
        (5, 8, leaf, [root8, *proof], root8),
        (5, 8, leaf, [*proof, root8], root8),
        (5, 8, leaf, proof, b"\xab" * 32),
        (5, 8, leaf, proof, merkle.EMPTY_ROOT),
        (5, 8, b"WrongLeaf", proof, root8),
        (0, 0, leaf, [], merkle.EMPTY_ROOT),
    ]
    bad += [(5, 8, leaf, [*proof[:i], _flip(proof[i]), *proof[i + 1 :]], root8) for i in range(3)]
    for case in bad:
        assert not merkle.verify_inclusion(*case), case


def test_mutated_consistency_proofs_fail() -> None:
    r6, r8 = bytes.fromhex(ROOTS[6]), bytes.fromhex(ROOTS[8])
    proof = TREE.consistency(6, 8)
    bad = [
        (6, 8, r6, r8, []),
        (6, 8, r6, r8, [proof[0], *proof]),
        (6, 8, r6, r8, [b"", *proof]),
        (6, 8, r6, r8, [*proof, b""]),
        (6, 8, r6, r8, [r6, *proof]),
        (6, 8, r6, r8, [*proof, r8]),
        (7, 8, r6, r8, proof),
        (5, 8, r6, r8, proof),
        (4, 8, r6, r8, proof),
        (6, 16, r6, r8, proof),
        (6, 4, r6, r8, proof),
        (6, 8, r8, r6, proof),
        (6, 8, r6, r8, proof[:-1]),
        (6, 8, b"\xab" * 32, r8, proof),
        (6, 8, r6, b"\xab" * 32, proof),
        (0, 8, merkle.EMPTY_ROOT, r8, proof),
        (8, 6, r8, r6, proof),
        (1, 1, r6, r6, proof),
    ]
    bad += [(6, 8, r6, r8, [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]) for i in range(3)]
    for case in bad:
        assert not merkle.verify_consistency(*case), case


def test_proof_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError, match="index < size"):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError, match="0 < old"):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(ValueError, match="0 < old"):
        merkle.consistency_ranges(4, 3)


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_stored_tree_agrees_with_the_naive_reference(leaves: list[bytes], data: st.DataObject) -> None:
    tree = Tree(leaves)
    n = len(leaves)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    root, old_root = naive_mth(leaves[:size]), naive_mth(leaves[:old])
    assert tree.root(size) == root
    path = tree.inclusion(index, size)
    assert path == naive_path(index, leaves[:size])
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), path, root)
    consistency = tree.consistency(old, size)
    assert consistency == naive_subproof(old, leaves[:size], True)
    assert merkle.verify_consistency(old, size, old_root, root, consistency)
    if size > 1:  # a proof for another leaf or another tree must not verify
        other = (index + 1) % size
        assert not merkle.verify_inclusion(other, size, merkle.leaf_hash(leaves[index]), path, root) or (
            leaves[other] == leaves[index] and naive_path(other, leaves[:size]) == path
        )
