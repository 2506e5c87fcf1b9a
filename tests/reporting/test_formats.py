"""Canonical JSON, signed notes / checkpoints and grants: pure, against published vectors."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.run import local_ledger_signing_key
from services.reporting.ledger import merkle
from services.reporting.ledger.jcs import canonicalize, format_number
from services.reporting.ledger.notes import Checkpoint, NoteError, Signer, Verifier, open_checkpoint, open_note
from services.reporting.settings import ReportingSettings, dev_signer
from shared.grants import GrantsError, load_grants, parse_grants, project

# --- RFC 8785 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [  # RFC 8785 §3.2.2.3 / Appendix B
        (333333333.33333329, "333333333.3333333"),
        (1e30, "1e+30"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (0.000000000000000000000000001, "1e-27"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992.0, "9007199254740992"),
        (295147905179352830000.0, "295147905179352830000"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5e-7, "-1.5e-7"),
        (23.12, "23.12"),
    ],
)
def test_numbers_are_formatted_as_ecmascript(value: float, expected: str) -> None:
    assert format_number(value) == expected


def test_rfc_8785_example_object() -> None:
    # RFC 8785 §3.2.3 sorting example (keys by UTF-16 code units) and §3.2.4 output shape.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [k for k in canonicalize(value).decode().split('"')[1::4]]
    assert keys == ["\\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonicalize({"b": [1, 2.5, None, True, False], "a": 'x\n\u0001"\\/'}) == (
        b'{"a":"x\\n\\u0001\\"\\\\/","b":[1,2.5,null,true,false]}'
    )
    assert canonicalize({"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 1e-27]}) == (
        b'{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, 2**53 + 1, "\ud800", {1: "x"}, b"bytes", {1, 2}])
def test_values_jcs_cannot_represent_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        canonicalize({"v": bad})


# --- signed notes --------------------------------------------------------------------------------

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_NOTE = (
    TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
    "vqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_LINE = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
LEDGER_SKEY = "PRIVATE+KEY+example.com/ledger+ebafc28b+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
LEDGER_VKEY = "example.com/ledger+ebafc28b+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
CHECKPOINT_8 = (
    "example.com/ledger\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n"
    "\u2014 example.com/ledger 66/Ci13vdSbXLoRJ3O7HQy9AEbHquM+GBIegjHu7n3vARLxtNj300GRT2WJv8C6h"
    "DHv3HcLVs2mNW34eeLZaCr9Xig0=\n"
)


def test_go_note_vectors_sign_byte_exact() -> None:
    peter = Signer.parse(PETER_SKEY)
    assert peter.verifier.vkey == PETER_VKEY
    assert peter.skey == PETER_SKEY
    assert peter.sign(TEXT) == PETER_NOTE
    enoch = Signer.from_seed("EnochRoot", bytes(32))
    assert enoch.verifier.vkey == "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
    assert enoch.sign(TEXT).endswith(ENOCH_LINE)
    assert Verifier.parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").public_key.hex() == (
        "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    )


def test_checkpoint_vector_with_custom_origin() -> None:
    signer = Signer.parse(LEDGER_SKEY)
    assert signer.verifier.vkey == LEDGER_VKEY
    root = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    assert signer.sign(Checkpoint("example.com/ledger", 8, root).text()) == CHECKPOINT_8
    opened = open_checkpoint(CHECKPOINT_8, Verifier.parse(LEDGER_VKEY), "example.com/ledger")
    assert (opened.size, opened.root) == (8, root)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(CHECKPOINT_8, Verifier.parse(LEDGER_VKEY), "gz.childcare.ledger")


def test_open_note_follows_go() -> None:
    peter = Verifier.parse(PETER_VKEY)
    both = PETER_NOTE + ENOCH_LINE
    opened = open_note(both, [peter])
    assert (opened.verified_by, opened.unverified) == (["PeterNeumann"], 1)
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_note(both, [])
    tampered = PETER_NOTE.replace("LLr8pAcE", "LLr9pAcE")
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann"):
        open_note(tampered, [peter])
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(PETER_NOTE.replace("answer", "ANSWER"), [peter])
    sig_line = PETER_NOTE[len(TEXT) + 1 :]
    bad_messages = [
        TEXT,
        TEXT + "\n",
        PETER_NOTE[:-1],
        "\x01" + PETER_NOTE,
        PETER_NOTE.replace("\u2014 PeterNeumann", "\u2014 Bad Name"),
        PETER_NOTE + "junk\n",
        TEXT + "\n" + sig_line * 101,
    ]
    for message in bad_messages:
        with pytest.raises(NoteError):
            open_note(message, [peter])


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY[:-1],
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),
        PETER_VKEY.replace("PeterNeumann", "PeterNeumanm"),
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        PETER_VKEY.replace("+ARpc", "+AhPc"),
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(vkey)


def test_checkpoint_text_parsing_is_strict() -> None:
    root = base64.b64encode(merkle.EMPTY_ROOT).decode()
    assert Checkpoint.parse(f"o\n0\n{root}\n") == Checkpoint("o", 0, merkle.EMPTY_ROOT)
    for text in (f"o\n05\n{root}\n", f"o\n+5\n{root}\n", f"o\n5\n{root}", "o\n5\nAAAA\n", f"o\n\n5\n{root}\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(text)


def test_ledger_signing_key_settings() -> None:
    settings = ReportingSettings(environment="test")
    assert settings.ledger_signer().name == "gz.childcare.ledger"
    assert settings.ledger_signer() == dev_signer("gz.childcare.ledger"), "dev key is deterministic"
    real = Signer.from_seed("gz.childcare.ledger", bytes(range(32)))
    assert ReportingSettings(environment="test", ledger_signing_key=real.skey).ledger_signer() == real
    prod: dict[str, Any] = {"environment": "production", "database_url": "postgresql://x/y", "jwt_secret": "j" * 40}
    prod |= {"pii_hmac_secret": "h" * 40, "pii_encryption_secret": "e" * 40, "kafka_password": "k" * 40}
    prod |= {"oidc_issuer": "https://idp.example.org/realms/childcare"}
    with pytest.raises(ValueError, match="development ledger signing key"):
        ReportingSettings(**prod)
    with pytest.raises(ValueError, match="development ledger signing key"):
        ReportingSettings(**prod, ledger_signing_key=dev_signer("gz.childcare.ledger").skey)
    assert ReportingSettings(**prod, ledger_signing_key=real.skey).ledger_signer() == real
    own = ReportingSettings(**prod | {"environment": "development"})
    assert own.ledger_signer() == own.ledger_signer() != dev_signer("gz.childcare.ledger"), (
        "a deployment with its own pii_hmac_secret signs with its own, stable dev key"
    )
    assert (
        own.ledger_signer()
        != ReportingSettings(**prod | {"environment": "development", "pii_hmac_secret": "g" * 40}).ledger_signer()
    )
    with pytest.raises(ValueError, match="development ledger signing key"):
        ReportingSettings(**prod, ledger_signing_key=own.ledger_signer().skey)
    with pytest.raises(ValueError, match="development ledger verifier key"):
        ReportingSettings(
            **prod, ledger_signing_key=real.skey, ledger_previous_verifier_keys=[own.ledger_signer().verifier.vkey]
        )
    with pytest.raises(ValueError, match="key name must equal"):
        ReportingSettings(environment="test", ledger_signing_key=Signer.parse(LEDGER_SKEY).skey)
    with pytest.raises(ValueError, match="ledger_signing_key"):
        ReportingSettings(environment="test", ledger_signing_key=LEDGER_SKEY.replace("ebafc28b", "ebafc28c"))


def test_devstack_generates_one_ledger_key_per_deployment(tmp_path: Path) -> None:
    first = local_ledger_signing_key(tmp_path / "a")
    assert local_ledger_signing_key(tmp_path / "a") == first, "generated once, then reused"
    assert local_ledger_signing_key(tmp_path / "b") != first, "another deployment, another key"
    assert (tmp_path / "a" / "reporting-ledger-signing-key").stat().st_mode & 0o777 == 0o600
    signer = Signer.parse(first)
    assert signer.name == "gz.childcare.ledger"
    assert signer != dev_signer("gz.childcare.ledger")
    assert ReportingSettings(environment="test", ledger_signing_key=first).ledger_signer() == signer


# --- grants --------------------------------------------------------------------------------------

FILED = "cn.gov.gz.childcare.filing.institution.filed.v1"
BANNED = "cn.gov.gz.childcare.credit.person.banned.v1"


def test_grant_projection_keeps_only_granted_paths() -> None:
    data = {"institution_id": "i", "decided_by": "officer", "profile": {"name": "n", "uscc": "u", "address": "a"}}
    assert project(data, frozenset({"institution_id", "profile.name", "profile.uscc"})) == {
        "institution_id": "i",
        "profile": {"name": "n", "uscc": "u"},
    }
    assert project(data, frozenset({"profile"})) == {"profile": data["profile"]}
    assert project(data, frozenset({"missing", "profile.missing"})) == {}


def test_shipped_grants_and_their_intersection() -> None:
    grants = load_grants()
    assert {"market_regulation", "health_commission", "public_security"} <= set(grants.agencies)
    common = grants.common()
    assert BANNED not in common, "only public security is granted bans"
    assert common[FILED] == frozenset(
        {"institution_id", "profile.name", "profile.district_code", "profile.street_code"}
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "agencies"),
        ({"agencies": {"x": {"events": {"cn.gov.gz.childcare.nope.v1": []}}}}, "unknown event type"),
        ({"agencies": {"x": {"events": {FILED: ["profile.nope"]}}}}, "no such fields"),
        ({"agencies": {"x": {"events": {FILED: "institution_id"}}}}, "list of names"),
    ],
)
def test_broken_grants_are_refused(raw: object, message: str) -> None:
    with pytest.raises(GrantsError, match=message):
        parse_grants(raw)


def _rfc8785_string(value: str) -> str:
    """RFC 8785 §3.2.2.2 spelled out one character at a time (the reference for the fast path)."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = ['"']
    for ch in value:
        out.append(short[ch] if ch in short else f"\\u{ord(ch):04x}" if ch < " " else ch)
    out.append('"')
    return "".join(out)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_strings_escape_exactly_what_rfc_8785_escapes(text: str) -> None:
    assert canonicalize(text) == _rfc8785_string(text).encode("utf-8")
    assert canonicalize({text: text}) == ("{" + _rfc8785_string(text) + ":" + _rfc8785_string(text) + "}").encode()


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize("a\ud800b")


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([480.0, 23.1291, 113.324, 0.0001, 0.00009999, 1e15 - 0.5, 1e15, 1e16, -0.0, 1e-7])
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=4)
            | st.sampled_from(["\U0001f600", "\ufb33", "id", "\u20ac"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@pytest.mark.parametrize(
    "number",
    [480.0, -0.0, 23.1291, 0.0001, 0.00009999, 1e-7, 123456789012345.6, 1e15, 2.0**53, 1e16, 1e21, 5e-324, -3.5],
)
def test_numbers_at_the_fast_path_boundaries_are_written_as_ecmascript(number: float) -> None:
    assert canonicalize({"v": [number]}) == ('{"v":[' + format_number(number) + "]}").encode()


@settings(max_examples=300)
@given(_JSON_VALUES)
def test_the_c_encoder_fast_path_writes_what_the_general_writer_writes(value: Any) -> None:
    """Documents whose numbers print alike in Python and ECMAScript go through the json module's C
    encoder; whatever the document, the bytes are those of the general RFC 8785 writer."""
    from services.reporting.ledger.jcs import _general

    assert canonicalize(value) == _general(value).encode("utf-8")
