"""Witness cosignatures of checkpoints (C2SP tlog-cosignature, Ed25519 "cosignature/v1").

An agency that verified a checkpoint consistent with the last one it saw signs it with its witness
key and submits the signature line; the log accepts it only from a key registered for that agency
(``REPORTING_LEDGER_WITNESS_KEYS``) and only if it verifies, and serves every checkpoint with the
cosignatures it has. A client that trusts the log's key and a witness's key opens the note with both
(Go: ``note.Open`` with a cosignature/v1 verifier, tests/reporting/gocheck).

* witness verifier key = ``<name>+<8 hex key ID>+<base64(0x04 || 32-byte public key)>``
* key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]
* signature line = ``— <name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)``
* signed message = ``cosignature/v1\\ntime <timestamp>\\n`` + the checkpoint's note text
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.ledger.errors import CheckpointNotFound, CosignatureInvalid, WitnessKeyUnknown
from services.reporting.ledger.models import LedgerCheckpoint, LedgerCosignature
from services.reporting.ledger.notes import SIGNATURE_PREFIX, NoteError, valid_name

ALG_COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
# A cosignature dated later than this beyond the log's clock is refused (C2SP: verifiers MAY).
FUTURE_TOLERANCE_SECONDS = 300


def witness_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{note_text}".encode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("invalid base64") from exc


@dataclass(frozen=True)
class WitnessVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @property
    def vkey(self) -> str:
        key = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{key}"

    @classmethod
    def parse(cls, vkey: str) -> WitnessVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("witness key must be name+hexid+base64")
        name, hex_id, encoded = parts
        key = _b64decode(encoded)
        if not valid_name(name):
            raise NoteError("invalid key name")
        if len(key) != 33 or key[0] != ALG_COSIGNATURE_V1:
            raise NoteError("only Ed25519 cosignature/v1 keys (type 0x04, 32-byte key) are accepted")
        verifier = cls(name=name, key_id=witness_key_id(name, key[1:]), public_key=key[1:])
        if verifier.key_id.hex() != hex_id.lower():
            raise NoteError("key ID does not match the key")
        return verifier

    def verify(self, note_text: str, timestamp: int, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature, cosigned_message(note_text, timestamp)
            )
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class WitnessSigner:
    """A witness's signing side, as an agency's tool would hold it (the log never does)."""

    name: str
    seed: bytes

    @property
    def verifier(self) -> WitnessVerifier:
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return WitnessVerifier(name=self.name, key_id=witness_key_id(self.name, public), public_key=public)

    def cosign(self, note_text: str, timestamp: int) -> str:
        """The signature line (without newline) over a checkpoint's note text at ``timestamp``."""
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(cosigned_message(note_text, timestamp))
        raw = self.verifier.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class Cosignature:
    name: str
    key_id: bytes
    timestamp: int
    signature: bytes
    line: str


def parse_line(line: str) -> Cosignature:
    if not line.startswith(SIGNATURE_PREFIX) or "\n" in line:
        raise NoteError("a signature line is '— <name> <base64>'")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not valid_name(name) or not encoded:
        raise NoteError("a signature line is '— <name> <base64>'")
    raw = _b64decode(encoded)
    if len(raw) != 4 + 8 + 64:
        raise NoteError("a cosignature/v1 holds a key ID, a timestamp and a 64-byte signature")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError("timestamp beyond 2^63-1")
    return Cosignature(name=name, key_id=raw[:4], timestamp=timestamp, signature=raw[12:], line=line)


def note_text(note: str) -> str:
    """The text of a signed note (everything before the blank line that starts the signatures)."""
    return note[: note.rfind("\n\n") + 1]


def with_cosignatures(note: str, lines: Sequence[str]) -> str:
    """The log's signed note with the cosignature lines appended to its signature block."""
    return note + "".join(f"{line}\n" for line in lines)


# --- accepting and serving ------------------------------------------------------------------------


@dataclass(frozen=True)
class CosignatureView:
    tree_size: int
    key_name: str
    key_id: str
    agency: str
    timestamp: int
    signature: str
    received_at: datetime | None


def _view(row: LedgerCosignature) -> CosignatureView:
    return CosignatureView(
        tree_size=int(row.tree_size),
        key_name=row.key_name,
        key_id=row.key_id,
        agency=row.agency,
        timestamp=int(row.timestamp),
        signature=row.signature,
        received_at=row.received_at,
    )


async def submit(
    session: AsyncSession,
    *,
    tree_size: int,
    line: str,
    agencies: Sequence[str],
    witness_keys: Mapping[str, Sequence[str]],
    now: datetime | None = None,
) -> tuple[CosignatureView, bool]:
    """Store a cosignature of the checkpoint signed at ``tree_size``; (view, created). Refused unless
    the line names a witness key registered for one of ``agencies`` and verifies over that
    checkpoint. A second cosignature by the same key keeps the first (it is evidence)."""
    checkpoint = await session.get(LedgerCheckpoint, tree_size)
    if checkpoint is None:
        raise CheckpointNotFound(field="size")
    try:
        cosignature = parse_line(line)
    except NoteError as exc:
        raise CosignatureInvalid("副署行格式不符合 C2SP cosignature/v1", field="signature") from exc
    registered = {
        (v.name, v.key_id): (agency, v)
        for agency in agencies
        for v in (WitnessVerifier.parse(k) for k in witness_keys.get(agency, ()))
    }
    found = registered.get((cosignature.name, cosignature.key_id))
    if found is None:
        raise WitnessKeyUnknown()
    agency, verifier = found
    moment = now or datetime.now(UTC)
    if cosignature.timestamp > moment.timestamp() + FUTURE_TOLERANCE_SECONDS:
        raise CosignatureInvalid("副署时间晚于当前时间", field="signature")
    if not verifier.verify(note_text(checkpoint.note), cosignature.timestamp, cosignature.signature):
        raise CosignatureInvalid("副署签名无法用登记的见证密钥验证", field="signature")
    inserted = await session.execute(
        pg_insert(LedgerCosignature)
        .values(
            tree_size=tree_size,
            key_name=cosignature.name,
            key_id=cosignature.key_id.hex(),
            agency=agency,
            timestamp=cosignature.timestamp,
            signature=line,
        )
        .on_conflict_do_nothing()
        .returning(LedgerCosignature.tree_size)
    )
    created = inserted.first() is not None
    row = await session.get(LedgerCosignature, (tree_size, cosignature.name, cosignature.key_id.hex()))
    assert row is not None
    return _view(row), created


async def cosignatures_for(session: AsyncSession, sizes: Sequence[int]) -> dict[int, list[CosignatureView]]:
    """The cosignatures of these checkpoints, each list ordered by witness key name and id (a stable
    order, so the served note is the same on every request)."""
    if not sizes:
        return {}
    rows = (
        (
            await session.execute(
                select(LedgerCosignature)
                .where(LedgerCosignature.tree_size.in_(list(sizes)))
                .order_by(LedgerCosignature.key_name, LedgerCosignature.key_id)
            )
        )
        .scalars()
        .all()
    )
    out: dict[int, list[CosignatureView]] = {size: [] for size in sizes}
    for row in rows:
        out[int(row.tree_size)].append(_view(row))
    return out
