"""A public randomness beacon round as a witness of the draw (docs/draw.md §1.2): drand's unchained
scheme ``bls-unchained-g1-rfc9380`` (quicknet), verified with py-ecc, the Ethereum Foundation's
maintained BLS12-381 implementation.

A round's value is a BLS signature on G1, by the beacon network's threshold key (on G2), over
``sha256(round as 8 bytes big-endian)`` hashed to G1 with RFC 9380 (DST below); its randomness is
``sha256(signature)``. Nobody — not the platform, not one drand node — can produce the signature of a
future round, and there is exactly one valid signature per round, so a round fixed at the commit and
published after the reveal time is a witness no insider can choose or try again.

``signature_valid`` is pure Python pairing arithmetic (a fraction of a second to ~2 s depending on the
machine): call it once per draw, off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from py_ecc.bls.typing import G2Uncompressed


SCHEME = "bls-unchained-g1-rfc9380"
# RFC 9380 hash-to-curve suite for signatures on G1, as drand's unchained G1 scheme uses it
DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
SIGNATURE_HEX = r"^[0-9a-f]{96}$"  # a compressed G1 point: 48 bytes


@dataclass(frozen=True)
class BeaconChain:
    """A drand chain as its operators publish it (``GET https://api.drand.sh/<chain_hash>/info``)."""

    chain_hash: str
    public_key: str  # compressed G2 point, 96 bytes as hex
    genesis_time: int  # Unix seconds of round 1
    period_seconds: int
    scheme: str = SCHEME

    def round_time(self, round_number: int) -> datetime:
        """When the round is produced: genesis + (round − 1) × period."""
        return datetime.fromtimestamp(self.genesis_time + (round_number - 1) * self.period_seconds, UTC)

    def first_round_at_or_after(self, when: datetime) -> int:
        """The earliest round whose time is not before ``when`` (exact: in microseconds, no floats)."""
        elapsed_us = (when - datetime.fromtimestamp(self.genesis_time, UTC)) // timedelta(microseconds=1)
        return max(1, -(-elapsed_us // (self.period_seconds * 1_000_000)) + 1)  # integer ceiling division

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


# League of Entropy mainnet "quicknet" (launched 2023-08-23), from
# https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/info
QUICKNET = BeaconChain(
    chain_hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key=(
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c92"
        "1cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
    ),
    genesis_time=1692803367,
    period_seconds=3,
)


def randomness(signature: str) -> str:
    """The round's randomness: sha256 of the signature bytes, 64 lowercase hex digits."""
    return hashlib.sha256(bytes.fromhex(signature)).hexdigest()


def round_message(round_number: int) -> bytes:
    """What the unchained scheme signs: sha256 of the round number as 8 bytes big-endian."""
    return hashlib.sha256(round_number.to_bytes(8, "big")).digest()


@lru_cache(maxsize=8)
def _public_key_point(public_key: str) -> G2Uncompressed:
    """The key on G2, checked once per key: on the curve (decompression) and in the prime-order subgroup."""
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.point_compression import decompress_G2
    from py_ecc.bls.typing import G2Compressed
    from py_ecc.optimized_bls12_381.optimized_curve import is_inf

    raw = bytes.fromhex(public_key)
    if len(raw) != 96:
        raise ValueError("a beacon public key is 96 bytes")
    point = decompress_G2(G2Compressed((int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))))
    if is_inf(point) or not subgroup_check(point):
        raise ValueError("the beacon public key is not a point of G2's prime-order subgroup")
    return point


def check_public_key(public_key: str) -> None:
    """Raises ValueError unless ``public_key`` (192 hex digits) is a point of G2's prime-order subgroup."""
    try:
        _public_key_point(public_key)
    except ValueError as problem:
        raise ValueError(f"the beacon public key is not usable: {problem}") from problem


def signature_valid(chain: BeaconChain, round_number: int, signature: str) -> bool:
    """True iff ``signature`` (96 hex digits) is the chain's BLS signature of ``round_number``:
    e(signature, g2) == e(H(sha256(round)), public key), with the signature a non-identity point of
    G1's prime-order subgroup. A malformed signature is simply not valid."""
    # py-ecc (and eth-utils under it) takes ~0.3 s to import: only a draw with a beacon pays it
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import decompress_G1
    from py_ecc.bls.typing import G1Compressed
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381.optimized_curve import G2, is_inf, neg
    from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, pairing

    if chain.scheme != SCHEME:
        raise ValueError(f"unsupported beacon scheme {chain.scheme!r}")
    key = _public_key_point(chain.public_key)
    try:
        raw = bytes.fromhex(signature)
        if len(raw) != 48:
            return False
        point = decompress_G1(G1Compressed(int.from_bytes(raw, "big")))
    except ValueError:
        return False  # not a point of the curve, or not a canonical encoding
    if is_inf(point) or not subgroup_check(point):
        return False
    hashed = hash_to_G1(round_message(round_number), DST, hashlib.sha256)  # type: ignore[arg-type]
    product = pairing(G2, point, final_exponentiate=False) * pairing(key, neg(hashed), final_exponentiate=False)
    return bool(final_exponentiate(product) == FQ12.one())
