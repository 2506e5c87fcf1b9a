from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LedgerEntryOut(_Out):
    index: int
    event_id: str
    event_source: str
    event_type: str
    subject: str
    event_time: datetime
    recorded_at: datetime
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || leaf), the RFC 6962 leaf hash (as on every endpoint)")
    leaf_hash_hex: str = Field(
        description="deprecated: the same hash in hex, as `leaf_hash` was before; removed in a later version",
        json_schema_extra={"deprecated": True},
    )
    data: dict[str, Any] = Field(description="the event's data; for an agency only the fields its grant allows")
    leaf_version: int = Field(description="1: the leaf holds the data; 2: per-field salted digests (docs/ledger.md)")
    disclosures: dict[str, str] | None = Field(
        description="leaf version 2: per field of `data` (dotted path) the base64 of its disclosure, the canonical "
        "JSON [salt, path, value] whose SHA-256 the leaf commits to; null for version 1"
    )
    undisclosed_digests: dict[str, str] | None = Field(
        description="leaf version 2: base64 SHA-256 digest of every field not disclosed to the caller (its value "
        "and salt stay hidden); null for version 1"
    )


class LedgerPage(_Out):
    entries: list[LedgerEntryOut]
    next_cursor: int = Field(description="pass as ?after= to continue; entries the caller may not see are skipped")
    tree_size: int


class CosignatureOut(_Out):
    key_name: str = Field(description="the witness key's name")
    key_id: str = Field(description="8 hex digits")
    agency: str = Field(description="the agency whose registered witness key it is")
    timestamp: int = Field(description="seconds since the epoch, as signed")
    signature: str = Field(description="the signature line (C2SP tlog-cosignature), as appended to the note")
    received_at: datetime | None


class CheckpointOut(_Out):
    origin: str
    tree_size: int
    root_hash: str = Field(description="base64 RFC 6962 root")
    note: str = Field(
        description="the signed note (C2SP tlog-checkpoint): the log's signature byte-exact as signed, then the "
        "witnesses' cosignature lines; Go: note.Open"
    )
    key_name: str
    key_id: str = Field(description="8 hex digits")
    signed_at: datetime | None
    cosignatures: list[CosignatureOut] = Field(description="witness cosignatures, ordered by witness key name")


class CosignatureIn(_Out):
    # Not free text: cosign.parse refuses anything but '— <key name> <base64>' (cosignature_invalid),
    # so no personal data can be typed into it; the format names that grammar in the OpenAPI.
    signature: str = Field(
        max_length=400,
        json_schema_extra={"format": "c2sp-cosignature-line"},
        description="one C2SP cosignature/v1 line: '— <witness name> base64(key ID || u64 timestamp || Ed25519 "
        "signature)' over 'cosignature/v1\\ntime <timestamp>\\n' + the checkpoint's text",
    )


class CheckpointPage(_Out):
    checkpoints: list[CheckpointOut] = Field(description="oldest first")
    next_cursor: int | None = Field(description="pass as ?after= for the next page; null: no more checkpoints")


class VerifierKeyOut(_Out):
    key_name: str
    key_id: str = Field(description="8 hex digits")
    verifier_key: str = Field(description="Go note verifier key: name+hexkeyid+base64(0x01||public key)")
    fingerprint: str = Field(description="SHA-256 of the verifier_key string, hex (compare with docs/ledger.md)")


class PublicKeyOut(_Out):
    origin: str
    key_name: str
    key_id: str
    algorithm: str = "ed25519"
    public_key: str = Field(description="base64 of the 32-byte Ed25519 public key")
    verifier_key: str = Field(description="Go note verifier key: name+hexkeyid+base64(0x01||public key)")
    fingerprint: str = Field(description="SHA-256 of the verifier_key string, hex")
    previous_verifier_keys: list[str] = Field(description="verifier keys of rotated-out signing keys")
    previous: list[VerifierKeyOut] = Field(description="the same previous keys, with id and fingerprint")


class InclusionProofOut(_Out):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    root_hash: str = Field(description="base64 root at tree_size")
    proof: list[str] = Field(description="base64 hashes, leaf's sibling first (Go: tlog.RecordProof)")
    leaf: str | None = Field(description="base64 of the exact leaf bytes; only for ops and supervisors")


class ConsistencyProofOut(_Out):
    from_size: int = Field(serialization_alias="from")
    to_size: int = Field(serialization_alias="to")
    from_root: str
    to_root: str
    proof: list[str] = Field(description="base64 hashes (Go: tlog.TreeProof)")


class CheckpointCheckOut(_Out):
    tree_size: int
    root_hash: str
    signature_ok: bool
    root_matches: bool


class ProblemOut(_Out):
    code: str
    detail: str
    index: int | None = None
    tree_size: int | None = None


class VerificationOut(_Out):
    ok: bool
    tree_size: int
    entries_checked: int
    root_hash: str = Field(description="base64 root recomputed from the stored entries")
    checkpoints: list[CheckpointCheckOut]
    problems: list[ProblemOut]
