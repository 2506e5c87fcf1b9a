"""Handling of resident identity numbers (personal data).

* :func:`mask_resident_id` — display form, e.g. ``440103********1234``.
* :class:`PiiVault` — a keyed pseudonymous reference (HMAC-SHA256) for joins
  and de-duplication, plus AES-256-GCM encryption for the rare cases where the
  clear value must be recoverable.

Nothing in this module logs, and no exception raised here contains, the clear
value or key material.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.identifiers import normalise_identifier, validate_resident_id

__all__ = ["KEY_SIZE", "PiiError", "PiiVault", "mask_resident_id"]

KEY_SIZE = 32
"""Size in bytes of both vault keys."""

_VERSION = b"\x01"  # nonce + ciphertext under the one configured key (before key ids existed)
_VERSION_KEYED = b"\x02"  # key-id length + key id + nonce + ciphertext; the key id is also bound as AAD
_NONCE_SIZE = 12
_TAG_SIZE = 16
_AAD = b"resident_id"
_HKDF_SALT = b"childcare-platform/pii/v1"
_HKDF_INFO_HMAC = b"childcare-platform/pii/person-ref/hmac-sha256"
_HKDF_INFO_ENC = b"childcare-platform/pii/resident-id/aes-256-gcm"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class PiiError(ValueError):
    """Personal data could not be processed (malformed, tampered or wrong key).

    The message never contains the personal data itself.
    """


def mask_resident_id(id18: str) -> str:
    """Mask an 18-character resident ID for display: first 6 + 8 asterisks + last 4.

    Only the shape (17 digits + digit/X) is checked, so stored legacy values can
    still be displayed; raises :class:`PiiError` otherwise.
    """
    value = normalise_identifier(id18)
    if not _ID_SHAPE.fullmatch(value):
        raise PiiError("value is not an 18-character resident identity number")
    return f"{value[:6]}{'*' * 8}{value[-4:]}"


def _check_key(name: str, key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    key = bytes(key)
    if len(key) != KEY_SIZE:
        raise ValueError(f"{name} must be exactly {KEY_SIZE} bytes")
    return key


class PiiVault:
    """Pseudonymisation and encryption of resident identity numbers.

    ``hmac_key`` and ``encryption_key`` must be distinct 32-byte secrets. Inputs
    to :meth:`person_ref` and :meth:`encrypt` are validated and normalised with
    :func:`shared.identifiers.validate_resident_id` (so ``...x`` and ``...X``
    give the same reference); invalid numbers raise
    :class:`shared.identifiers.IdentifierError`.
    """

    __slots__ = ("_aead", "_hmac_key", "_key_id", "_previous")

    def __init__(
        self,
        hmac_key: bytes,
        encryption_key: bytes,
        *,
        key_id: str | None = None,
        previous_keys: dict[str, bytes] | None = None,
    ) -> None:
        """``key_id`` names ``encryption_key``; with it, new ciphertexts carry the id and
        ``previous_keys`` (id -> key) keep what older keys encrypted readable after a rotation.
        Without it, the original format (no id) is written. The HMAC key cannot rotate: person_ref
        must stay the same for the same person everywhere, for good."""
        hk = _check_key("hmac_key", hmac_key)
        ek = _check_key("encryption_key", encryption_key)
        if hmac.compare_digest(hk, ek):
            raise ValueError("hmac_key and encryption_key must be different keys")
        if key_id is not None and not 0 < len(key_id.encode()) < 256:
            raise ValueError("key_id must be 1-255 bytes")
        self._hmac_key = hk
        self._aead = AESGCM(ek)
        self._key_id = key_id
        self._previous = {kid: AESGCM(_check_key(f"previous key {kid}", k)) for kid, k in (previous_keys or {}).items()}

    @classmethod
    def from_secrets(
        cls,
        hmac_secret: str,
        encryption_secret: str,
        *,
        key_id: str | None = None,
        previous_secrets: dict[str, str] | None = None,
    ) -> PiiVault:
        """Derive both 32-byte keys from configuration secrets with HKDF-SHA256.

        Each key uses its own HKDF ``info`` label, so even identical secrets
        produce independent keys. Secrets should be high-entropy (HKDF is not a
        password hash).
        """
        if not hmac_secret or not encryption_secret:
            raise ValueError("PII secrets must not be empty")
        return cls(
            _hkdf(hmac_secret.encode("utf-8"), _HKDF_INFO_HMAC),
            _hkdf(encryption_secret.encode("utf-8"), _HKDF_INFO_ENC),
            key_id=key_id,
            previous_keys={
                kid: _hkdf(secret.encode("utf-8"), _HKDF_INFO_ENC) for kid, secret in (previous_secrets or {}).items()
            },
        )

    def __repr__(self) -> str:
        return "PiiVault(<keys redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("PiiVault holds key material and cannot be pickled")

    def person_ref(self, id18: str) -> str:
        """Stable pseudonymous reference: lowercase hex HMAC-SHA256 of the normalised ID (64 chars)."""
        value = validate_resident_id(id18)
        return hmac.new(self._hmac_key, value.encode("ascii"), hashlib.sha256).hexdigest()

    def encrypt(self, id18: str) -> bytes:
        """Encrypt the normalised ID: ``b"\\x01" + 12-byte nonce + AES-256-GCM ciphertext||tag``."""
        value = validate_resident_id(id18)
        nonce = os.urandom(_NONCE_SIZE)
        if self._key_id is None:
            return _VERSION + nonce + self._aead.encrypt(nonce, value.encode("ascii"), _AAD)
        kid = self._key_id.encode()
        sealed = self._aead.encrypt(nonce, value.encode("ascii"), _AAD + b"|" + kid)
        return _VERSION_KEYED + bytes([len(kid)]) + kid + nonce + sealed

    def decrypt(self, blob: bytes) -> str:
        """Decrypt a value produced by :meth:`encrypt`; raise :class:`PiiError` if it was tampered with,
        was encrypted under another key, or is malformed."""
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise PiiError("encrypted resident ID must be bytes")
        data = bytes(blob)
        if len(data) < len(_VERSION) + _NONCE_SIZE + _TAG_SIZE:
            raise PiiError("encrypted resident ID is truncated")
        if data[:1] == _VERSION_KEYED:
            kid_len = data[1]
            kid = data[2 : 2 + kid_len]
            body = data[2 + kid_len :]
            if len(body) < _NONCE_SIZE + _TAG_SIZE:
                raise PiiError("encrypted resident ID is truncated")
            name = kid.decode("utf-8", "replace")
            aead = self._aead if name == self._key_id else self._previous.get(name)
            if aead is None:
                raise PiiError(f"encrypted under key {name!r}, which is not configured")
            return self._open(aead, body, _AAD + b"|" + kid)
        if data[:1] != _VERSION:
            raise PiiError("unsupported encrypted resident ID version")
        # the original format names no key: the current key, then any previous one
        for aead in (self._aead, *self._previous.values()):
            try:
                return self._open(aead, data[1:], _AAD)
            except PiiError:
                continue
        raise PiiError("encrypted resident ID failed authentication (tampered or wrong key)")

    def needs_rewrap(self, blob: bytes) -> bool:
        """True if ``blob`` is not under the current key: a background job may re-encrypt it."""
        data = bytes(blob)
        if self._key_id is None:
            return data[:1] != _VERSION
        return not (data[:1] == _VERSION_KEYED and data[2 : 2 + data[1]] == self._key_id.encode())

    @staticmethod
    def _open(aead: AESGCM, body: bytes, aad: bytes) -> str:
        nonce = body[:_NONCE_SIZE]
        try:
            plain = aead.decrypt(nonce, body[_NONCE_SIZE:], aad)
        except InvalidTag:
            raise PiiError("encrypted resident ID failed authentication (tampered or wrong key)") from None
        return plain.decode("ascii")


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=_HKDF_SALT, info=info).derive(secret)
