"""Unit tests for shared.pii (masking, pseudonymous references, encryption)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from shared.identifiers import IdentifierError, resident_id_check_char
from shared.pii import PiiError, PiiVault, mask_resident_id

KNOWN_ID = "11010519491231002X"
HMAC_KEY = bytes(range(32))
ENC_KEY = bytes(range(32, 64))
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_id(area: str, birth: date, seq: str) -> str:
    first17 = f"{area}{birth:%Y%m%d}{seq}"
    return first17 + resident_id_check_char(first17)


valid_ids = st.builds(
    make_id,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)


@pytest.fixture(scope="module")
def vault() -> PiiVault:
    return PiiVault(HMAC_KEY, ENC_KEY)


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------


def test_mask_known_id() -> None:
    assert mask_resident_id(KNOWN_ID) == "110105********002X"


def test_mask_example_shape() -> None:
    assert mask_resident_id("440103199001011234") == "440103********1234"


def test_mask_normalises_lower_x_and_spaces() -> None:
    assert mask_resident_id(" 11010519491231002x ") == "110105********002X"


@pytest.mark.parametrize(
    "raw", ["", "4401031990010112", "4401031990010112345", "44010319900101123Y", "abcdefghijklmnopqr"]
)
def test_mask_rejects_malformed_without_echoing(raw: str) -> None:
    with pytest.raises(PiiError) as exc_info:
        mask_resident_id(raw)
    if raw:
        assert raw not in str(exc_info.value)


@given(valid_ids)
def test_mask_property(id18: str) -> None:
    masked = mask_resident_id(id18)
    assert len(masked) == 18
    assert masked[:6] == id18[:6]
    assert masked[6:14] == "*" * 8
    assert masked[14:] == id18[14:]


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("hk", "ek"), [(b"short", ENC_KEY), (HMAC_KEY, b"x" * 31), (HMAC_KEY, b"x" * 33)])
def test_key_length_enforced(hk: bytes, ek: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PiiVault(hk, ek)


def test_keys_must_differ() -> None:
    with pytest.raises(ValueError, match="different"):
        PiiVault(HMAC_KEY, HMAC_KEY)


def test_key_type_enforced() -> None:
    with pytest.raises(TypeError):
        PiiVault("0" * 32, ENC_KEY)  # type: ignore[arg-type]


def test_repr_and_pickle_do_not_expose_keys(vault: PiiVault) -> None:
    assert HMAC_KEY.hex() not in repr(vault)
    assert "redacted" in repr(vault)
    with pytest.raises(TypeError):
        pickle.dumps(vault)


def test_from_secrets_is_deterministic_and_separates_keys() -> None:
    a = PiiVault.from_secrets("hmac-secret-value", "enc-secret-value")
    b = PiiVault.from_secrets("hmac-secret-value", "enc-secret-value")
    assert a.person_ref(KNOWN_ID) == b.person_ref(KNOWN_ID)
    assert b.decrypt(a.encrypt(KNOWN_ID)) == KNOWN_ID
    # different hmac secret -> different refs, encryption unaffected
    c = PiiVault.from_secrets("other-hmac-secret", "enc-secret-value")
    assert c.person_ref(KNOWN_ID) != a.person_ref(KNOWN_ID)
    assert c.decrypt(a.encrypt(KNOWN_ID)) == KNOWN_ID
    # different encryption secret -> cannot decrypt
    d = PiiVault.from_secrets("hmac-secret-value", "other-enc-secret")
    with pytest.raises(PiiError):
        d.decrypt(a.encrypt(KNOWN_ID))


def test_from_secrets_same_string_gives_distinct_keys() -> None:
    # distinct HKDF info labels: identical secrets must not produce identical keys (ctor would reject them)
    v = PiiVault.from_secrets("same", "same")
    assert len(v.person_ref(KNOWN_ID)) == 64


@pytest.mark.parametrize(("h", "e"), [("", "x"), ("x", "")])
def test_from_secrets_rejects_empty(h: str, e: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        PiiVault.from_secrets(h, e)


# ---------------------------------------------------------------------------
# person_ref
# ---------------------------------------------------------------------------


def test_person_ref_is_hmac_sha256_hex(vault: PiiVault) -> None:
    expected = hmac.new(HMAC_KEY, KNOWN_ID.encode(), hashlib.sha256).hexdigest()
    ref = vault.person_ref(KNOWN_ID)
    assert ref == expected
    assert len(ref) == 64
    assert set(ref) <= set("0123456789abcdef")


def test_person_ref_normalises(vault: PiiVault) -> None:
    assert vault.person_ref("11010519491231002x") == vault.person_ref(KNOWN_ID)
    assert vault.person_ref(" 110105 19491231 002X ") == vault.person_ref(KNOWN_ID)


def test_person_ref_depends_on_key(vault: PiiVault) -> None:
    other = PiiVault(bytes(range(1, 33)), ENC_KEY)
    assert other.person_ref(KNOWN_ID) != vault.person_ref(KNOWN_ID)


def test_person_ref_rejects_invalid_id(vault: PiiVault) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        vault.person_ref("110105194912310021")
    assert exc_info.value.code == "resident_id_checksum"


def test_person_ref_stable_across_processes(vault: PiiVault) -> None:
    code = (
        "from shared.pii import PiiVault;"
        "print(PiiVault(bytes(range(32)), bytes(range(32, 64))).person_ref('11010519491231002X'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == vault.person_ref(KNOWN_ID)


@given(valid_ids, valid_ids)
def test_person_ref_distinguishes_people(a: str, b: str) -> None:
    vault = PiiVault(HMAC_KEY, ENC_KEY)
    assert (vault.person_ref(a) == vault.person_ref(b)) == (a == b)


# ---------------------------------------------------------------------------
# Encryption
# ---------------------------------------------------------------------------


def test_blob_format(vault: PiiVault) -> None:
    blob = vault.encrypt(KNOWN_ID)
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 12 + 18 + 16
    assert KNOWN_ID.encode() not in blob
    # interoperable with plain AES-256-GCM using the documented layout and associated data
    nonce, ct = blob[1:13], blob[13:]
    assert AESGCM(ENC_KEY).decrypt(nonce, ct, b"resident_id") == KNOWN_ID.encode()
    with pytest.raises(InvalidTag):
        AESGCM(ENC_KEY).decrypt(nonce, ct, b"something_else")


def test_encrypt_uses_fresh_nonce(vault: PiiVault) -> None:
    blobs = {vault.encrypt(KNOWN_ID) for _ in range(20)}
    assert len(blobs) == 20
    assert len({b[1:13] for b in blobs}) == 20


def test_encrypt_normalises(vault: PiiVault) -> None:
    assert vault.decrypt(vault.encrypt("11010519491231002x")) == KNOWN_ID


def test_encrypt_rejects_invalid_id(vault: PiiVault) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        vault.encrypt("1101051949123100")
    assert exc_info.value.code == "resident_id_length"


@given(valid_ids)
def test_encryption_round_trip(id18: str) -> None:
    vault = PiiVault(HMAC_KEY, ENC_KEY)
    blob = vault.encrypt(id18)
    assert vault.decrypt(blob) == id18
    assert vault.decrypt(bytes(bytearray(blob))) == id18


@given(valid_ids, st.data())
def test_tampered_ciphertext_rejected(id18: str, data: st.DataObject) -> None:
    vault = PiiVault(HMAC_KEY, ENC_KEY)
    blob = bytearray(vault.encrypt(id18))
    index = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="index")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    blob[index] ^= mask
    with pytest.raises(PiiError) as exc_info:
        vault.decrypt(bytes(blob))
    assert id18 not in str(exc_info.value)


@given(valid_ids, st.integers(min_value=0, max_value=46))
def test_truncated_ciphertext_rejected(id18: str, keep: int) -> None:
    vault = PiiVault(HMAC_KEY, ENC_KEY)
    with pytest.raises(PiiError):
        vault.decrypt(vault.encrypt(id18)[:keep])


def test_extended_ciphertext_rejected(vault: PiiVault) -> None:
    with pytest.raises(PiiError):
        vault.decrypt(vault.encrypt(KNOWN_ID) + b"\x00")


def test_wrong_key_rejected(vault: PiiVault) -> None:
    other = PiiVault(HMAC_KEY, bytes(range(64, 96)))
    with pytest.raises(PiiError, match="authentication"):
        other.decrypt(vault.encrypt(KNOWN_ID))


def test_unknown_version_rejected(vault: PiiVault) -> None:
    blob = vault.encrypt(KNOWN_ID)
    with pytest.raises(PiiError, match="version"):
        vault.decrypt(b"\x07" + blob[1:])


def test_decrypt_rejects_non_bytes(vault: PiiVault) -> None:
    with pytest.raises(PiiError):
        vault.decrypt(KNOWN_ID)  # type: ignore[arg-type]


def test_pii_error_is_value_error() -> None:
    assert issubclass(PiiError, ValueError)


def test_nothing_logged(vault: PiiVault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mask_resident_id(KNOWN_ID)
    vault.person_ref(KNOWN_ID)
    blob = vault.encrypt(KNOWN_ID)
    vault.decrypt(blob)
    with pytest.raises(PiiError):
        vault.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]))
    for record in caplog.records:
        assert KNOWN_ID not in record.getMessage()
        assert KNOWN_ID[:14] not in record.getMessage()


def test_encryption_key_rotation_keeps_old_data_readable() -> None:
    """Rows written before key ids existed, and under an earlier key id, stay readable after rotation;
    the reference (person_ref) never changes."""
    legacy = PiiVault.from_secrets("hmac-secret-stays", "first-encryption-secret")
    first = PiiVault.from_secrets("hmac-secret-stays", "first-encryption-secret", key_id="2026-01")
    legacy_blob = legacy.encrypt(KNOWN_ID)
    first_blob = first.encrypt(KNOWN_ID)
    assert first_blob[:1] == b"\x02"
    assert b"2026-01" in first_blob

    rotated = PiiVault.from_secrets(
        "hmac-secret-stays",
        "second-encryption-secret",
        key_id="2026-07",
        previous_secrets={"2026-01": "first-encryption-secret"},
    )
    new_blob = rotated.encrypt(KNOWN_ID)
    assert rotated.decrypt(legacy_blob) == KNOWN_ID
    assert rotated.decrypt(first_blob) == KNOWN_ID
    assert rotated.decrypt(new_blob) == KNOWN_ID
    assert rotated.person_ref(KNOWN_ID) == legacy.person_ref(KNOWN_ID)
    assert rotated.needs_rewrap(first_blob)
    assert rotated.needs_rewrap(legacy_blob)
    assert not rotated.needs_rewrap(new_blob)

    forgot_old_key = PiiVault.from_secrets("hmac-secret-stays", "second-encryption-secret", key_id="2026-07")
    with pytest.raises(PiiError, match="2026-01"):
        forgot_old_key.decrypt(first_blob)
    # the key id is authenticated: relabelling a ciphertext to another id does not decrypt
    relabelled = first_blob.replace(b"2026-01", b"2026-07")
    with pytest.raises(PiiError):
        rotated.decrypt(relabelled)
