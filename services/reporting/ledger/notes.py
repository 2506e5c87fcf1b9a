"""Signed notes (C2SP signed-note, Go's ``golang.org/x/mod/sumdb/note``) and tlog checkpoints
(C2SP tlog-checkpoint) with Ed25519 via ``cryptography``. Pure apart from the key material it is given.

* key ID = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian
* verifier key = ``<name>+<8 hex key ID>+<base64(0x01 || public key)>`` (Go's ``note.NewVerifier``)
* signer key = ``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>`` (Go's ``note.NewSigner``)
* note = text (ending in a newline) + blank line + ``— <name> <base64(key ID || signature)>`` lines
* checkpoint text = ``<origin>\\n<tree size>\\n<base64 root>\\n``
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash + space
MAX_SIGNATURES = 100  # as Go's note.Open


class NoteError(ValueError):
    """A key string, note or checkpoint is malformed or does not verify."""


def valid_name(name: str) -> bool:
    """Key names and origins: printable ASCII without '+' or spaces (stricter than Go, see C2SP)."""
    return bool(name) and all(0x21 <= ord(c) <= 0x7E and c != "+" for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("invalid base64") from exc


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: bytes

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the verifier key string (UTF-8), hex: what docs/ledger.md publishes out of band."""
        return hashlib.sha256(self.vkey.encode()).hexdigest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key must be name+hexid+base64")
        name, hex_id, b64 = parts
        return cls._checked(name, hex_id, _b64decode(b64))

    @classmethod
    def _checked(cls, name: str, hex_id: str, key: bytes) -> Verifier:
        if not valid_name(name):
            raise NoteError("invalid key name")
        if len(hex_id) != 8:
            raise NoteError("key ID must be 8 hex digits")
        try:
            claimed = bytes.fromhex(hex_id)
        except ValueError as exc:
            raise NoteError("key ID must be 8 hex digits") from exc
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise NoteError("only Ed25519 keys (type 0x01, 32 bytes) are supported")
        if key_id(name, key[1:]) != claimed:
            raise NoteError("key ID does not match the key")
        return cls(name=name, key_id=claimed, public_key=key[1:])


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        if not valid_name(name):
            raise NoteError("invalid key name")
        if len(seed) != 32:
            raise NoteError("an Ed25519 seed has 32 bytes")
        return cls(name=name, seed=seed)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("signer key must be PRIVATE+KEY+name+hexid+base64")
        _, _, name, hex_id, b64 = parts
        key = _b64decode(b64)
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise NoteError("only Ed25519 keys (type 0x01, 32-byte seed) are supported")
        signer = cls.from_seed(name, key[1:])
        if signer.verifier.key_id.hex() != hex_id.lower():
            raise NoteError("key ID does not match the key")
        return signer

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def verifier(self) -> Verifier:
        public = self.public_key
        return Verifier(name=self.name, key_id=key_id(self.name, public), public_key=public)

    @property
    def skey(self) -> str:
        key = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{key}"

    def sign(self, text: str) -> str:
        """A signed note over ``text`` (which must end in a newline), byte-identical to Go's note.Sign."""
        _check_text(text)
        signature = self._private.sign(text.encode("utf-8"))
        field = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {field}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified_by: list[str]  # names of known keys whose signatures verified
    unverified: int  # signature lines from unknown keys (ignored, as C2SP requires)


def open_note(note: str, known: list[Verifier]) -> OpenedNote:
    """Go's note.Open: every signature by a known key must verify, at least one must exist."""
    if any(c < " " and c != "\n" for c in note):
        raise NoteError("malformed note")
    split_at = note.rfind("\n\n")
    if split_at < 0:
        raise NoteError("malformed note")
    text, block = note[: split_at + 1], note[split_at + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("malformed note")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed note")
    by_id = {(v.name, v.key_id): v for v in known}
    verified: list[str] = []
    unverified = 0
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed note")
        name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not valid_name(name) or not b64:
            raise NoteError("malformed note")
        raw = _b64decode(b64)
        if len(raw) < 5:
            raise NoteError("malformed note")
        verifier = by_id.get((name, raw[:4]))
        if verifier is None:
            unverified += 1
            continue
        if not verifier.verify(text.encode("utf-8"), raw[4:]):
            raise NoteError(f"invalid signature for key {name}+{raw[:4].hex()}")
        verified.append(name)
    if not verified:
        raise NoteError("note has no verifiable signatures")
    return OpenedNote(text=text, verified_by=verified, unverified=unverified)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("checkpoint needs non-empty origin, size and hash lines")
        origin, size_text, root_text = lines[:3]
        if not size_text.isascii() or not size_text.isdigit() or str(int(size_text)) != size_text:
            raise NoteError("bad tree size")
        root = _b64decode(root_text)
        if len(root) != 32:
            raise NoteError("root hash must be 32 bytes")
        return cls(origin=origin, size=int(size_text), root=root)


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    return signer.sign(checkpoint.text())


def open_checkpoint(note: str, verifier: Verifier, origin: str) -> Checkpoint:
    opened = open_note(note, [verifier])
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != origin:
        raise NoteError(f"origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
