"""Ledger leaf versions (docs/ledger.md "Entries (leaves)"). Pure apart from the key it is given.

* Version 1: the RFC 8785 canonical JSON of {id, source, type, subject, time, data}. An agency that
  sees only some fields of ``data`` cannot recompute it.
* Version 2 (per-field commitments, as SD-JWT's selective disclosure): every field of ``data`` is
  committed on its own by a salted digest, and the leaf holds the envelope and those digests only.
  An agency receives, for each field it is granted, the *disclosure* ``[salt, path, value]`` (its
  exact canonical bytes), and for every other field only its digest; it hashes the disclosures,
  rebuilds the leaf and checks the inclusion proof. A hidden field's salt never leaves the service,
  and with 128 random-looking bits in front of the value its digest cannot be searched by guessing
  the value (a person reference, a name).

Salts are HMAC-SHA256(salt key, JCS([event source, event id, path]))[:16]: unpredictable without
the key, different for every field of every event, and the same when a rebuild replays the same
event, so a rebuilt ledger has the same leaves. The salt key is derived from the deployment's
``pii_hmac_secret`` (which never rotates) under its own label; the salts are also stored with the
entry, so the key is only needed for appending.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.reporting.ledger import merkle
from services.reporting.ledger.jcs import canonicalize
from shared.events import CloudEvent

LEAF_V1 = 1
LEAF_V2 = 2
LEAF_VERSIONS = (LEAF_V1, LEAF_V2)
SALT_BYTES = 16  # 128 bits, as SD-JWT recommends at least
SALT_KEY_LABEL = b"gz-childcare-ledger-field-salt/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def format_time(moment: datetime) -> str:
    """UTC, ``YYYY-MM-DDTHH:MM:SS`` then ``.ffffff`` (microseconds, 6 digits) only when they are not
    zero, then ``Z``: the same string as the API's ``event_time``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def salt_key(pii_hmac_secret: str) -> bytes:
    return hmac.new(pii_hmac_secret.encode(), SALT_KEY_LABEL, hashlib.sha256).digest()


def _descend(value: Any) -> bool:
    """Objects are split into their fields unless empty or a key is empty or holds a '.' (then the
    dotted path would be ambiguous): such an object is one field."""
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) and k and "." not in k for k in value)


def field_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` by dotted path (the API's and shared/grants.yaml's names): every value
    that is not an object, and every object that is not split (see ``_descend``)."""
    out: dict[str, Any] = {}

    def walk(path: str, value: Any) -> None:
        if _descend(value):
            for key, inner in value.items():
                walk(f"{path}.{key}", inner)
        else:
            out[path] = value

    if data and not _descend(data):
        raise ValueError("event data keys must be non-empty and free of '.'")
    for key, value in data.items():
        walk(key, value)
    return out


def field_salt(key: bytes, source: str, event_id: str, path: str) -> str:
    # hmac.digest: the one-shot C HMAC, the same bytes as hmac.new(...).digest() without the Python
    # object per call (about 40 salts per version-2 leaf)
    return b64(hmac.digest(key, canonicalize([source, event_id, path]), "sha256")[:SALT_BYTES])


def disclosure(salt: str, path: str, value: Any) -> bytes:
    """The bytes a field's digest is taken over: JCS([salt, path, value])."""
    return canonicalize([salt, path, value])


def field_digest(disclosed: bytes) -> bytes:
    return hashlib.sha256(disclosed).digest()


def envelope_fields(envelope: CloudEvent) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": format_time(envelope.time),
    }


def leaf_v1(envelope: CloudEvent) -> bytes:
    return canonicalize({**envelope_fields(envelope), "data": envelope.data})


def leaf_v2(envelope: CloudEvent, salts: Mapping[str, str], values: Mapping[str, Any] | None = None) -> bytes:
    """``values``: ``field_values(envelope.data)`` when the caller has it already."""
    values = field_values(envelope.data) if values is None else values
    digests = {path: b64(field_digest(disclosure(salts[path], path, value))) for path, value in values.items()}
    return canonicalize({"v": LEAF_V2, **envelope_fields(envelope), "fields": digests})


@dataclass(frozen=True)
class Leaf:
    version: int
    leaf: bytes
    data: bytes | None  # v2: JCS of the event's data (the leaf holds only digests of it)
    salts: bytes | None  # v2: JCS of {path: salt}


@dataclass(frozen=True)
class LeafFormat:
    """How this deployment writes new leaves: the version, and (v2) the key salts are derived from."""

    version: int
    salt_key: bytes

    def leaf(self, envelope: CloudEvent, version: int | None = None) -> Leaf:
        version = self.version if version is None else version
        if version == LEAF_V1:
            return Leaf(LEAF_V1, leaf_v1(envelope), None, None)
        if version != LEAF_V2:
            raise ValueError(f"unknown leaf version {version}")
        values = field_values(envelope.data)
        salts = {path: field_salt(self.salt_key, envelope.source, envelope.id, path) for path in values}
        return Leaf(LEAF_V2, leaf_v2(envelope, salts, values), canonicalize(envelope.data), canonicalize(salts))

    def version_matching(self, envelope: CloudEvent, leaf_hash: bytes | None) -> int | None:
        """The version whose leaf of ``envelope`` has ``leaf_hash`` (None: this format's version)."""
        found = self._leaf_matching(envelope, leaf_hash)
        return None if found is None else found[0].version

    def leaf_for(
        self, envelope: CloudEvent, leaf_hash: bytes | None, own: tuple[Leaf, bytes] | None = None
    ) -> tuple[Leaf, bytes]:
        """The leaf of ``envelope`` whose hash is ``leaf_hash`` (a rebuild reproducing an entry of
        an earlier version), else this format's leaf; with its hash. Each version's leaf is computed
        at most once: this format's first (what a deployment recorded is most often what it writes,
        and it is the answer when no version matches; ``own`` when computed already, e.g. by
        another process), then the others."""
        if own is None:
            made_own = self.leaf(envelope)
            own = made_own, merkle.leaf_hash(made_own.leaf)
        own_leaf, own_hash = own
        if leaf_hash is None or own_hash == leaf_hash:
            return own
        for version in LEAF_VERSIONS:
            if version != own_leaf.version:
                made = self.leaf(envelope, version)
                digest = merkle.leaf_hash(made.leaf)
                if digest == leaf_hash:
                    return made, digest
        return own

    def _leaf_matching(self, envelope: CloudEvent, leaf_hash: bytes | None) -> tuple[Leaf, bytes] | None:
        if leaf_hash is None:
            return None
        # this format's own version first: what a deployment recorded is most often what it writes
        for version in sorted(LEAF_VERSIONS, key=lambda v: v != self.version):
            made = self.leaf(envelope, version)
            digest = merkle.leaf_hash(made.leaf)
            if digest == leaf_hash:
                return made, digest
        return None


@dataclass(frozen=True)
class FieldView:
    """What a reader gets to recompute a v2 leaf: the disclosures of the fields it may see (base64
    of their exact bytes) and the digests of the others (base64)."""

    disclosures: dict[str, str]
    undisclosed_digests: dict[str, str]


def field_view(leaf: bytes, data: Mapping[str, Any], salts: Mapping[str, str], visible: Mapping[str, Any]) -> FieldView:
    """``visible`` is ``data`` as the reader's grant filters it (shared.grants.project): its fields
    are disclosed, every other field of the leaf keeps only its digest."""
    values = field_values(data)
    shown = [path for path in field_values(visible) if path in values]
    digests: dict[str, str] = json.loads(leaf)["fields"]
    return FieldView(
        disclosures={path: b64(disclosure(salts[path], path, values[path])) for path in shown},
        undisclosed_digests={path: digest for path, digest in digests.items() if path not in shown},
    )


def fields_match(leaf: bytes, data: bytes, salts: bytes) -> bool:
    """Whether stored data and salts reproduce the digests a v2 leaf commits to."""
    values = field_values(json.loads(data))
    salt_of: dict[str, str] = json.loads(salts)
    if set(values) != set(salt_of):
        return False
    digests = {path: b64(field_digest(disclosure(salt_of[path], path, value))) for path, value in values.items()}
    return bool(json.loads(leaf).get("fields") == digests)
