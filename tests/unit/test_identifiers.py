"""Unit tests for shared.identifiers (USCC and resident identity numbers)."""

from __future__ import annotations

import pickle
import re
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.identifiers import (
    USCC_CHARSET,
    IdentifierError,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

# Publicly printed, known-valid codes (checked against GB 32100-2015, not generated here).
KNOWN_VALID_USCC = ["91350100M000100Y43", "91110000802100433B", "91440300708461136T"]
# The GB 11643-1999 textbook example.
KNOWN_VALID_ID = "11010519491231002X"

DIGITS = "0123456789"
LETTERS = [c for c in USCC_CHARSET if not c.isdigit()]

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

uscc_first17 = st.builds(
    lambda a, b, div, org: a + b + div + org,
    st.sampled_from(USCC_CHARSET),
    st.sampled_from(USCC_CHARSET),
    st.text(alphabet=DIGITS, min_size=6, max_size=6),
    st.text(alphabet=USCC_CHARSET, min_size=9, max_size=9),
)
valid_uscc = uscc_first17.map(lambda f: f + uscc_check_char(f))


def make_id(area: str, birth: date, seq: str) -> str:
    first17 = f"{area}{birth:%Y%m%d}{seq}"
    return first17 + resident_id_check_char(first17)


valid_resident_id = st.builds(
    make_id,
    st.text(alphabet=DIGITS, min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    st.text(alphabet=DIGITS, min_size=3, max_size=3),
)


def assert_error(exc_info: pytest.ExceptionInfo[IdentifierError], code: str) -> IdentifierError:
    err = exc_info.value
    assert err.code == code
    assert err.message_zh
    assert isinstance(err, ValueError)
    return err


# ---------------------------------------------------------------------------
# USCC
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", KNOWN_VALID_USCC)
def test_known_valid_uscc_pass(code: str) -> None:
    assert validate_uscc(code) == code
    assert uscc_check_char(code[:17]) == code[17]


def test_uscc_check_char_zero_case() -> None:
    # sum mod 31 == 0 -> c = 31 -> check char "0"
    assert uscc_check_char("0" * 17) == "0"


def test_uscc_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="17"):
        uscc_check_char("9135010")
    with pytest.raises(ValueError, match="charset"):
        uscc_check_char("91350100M000100YI")


@pytest.mark.parametrize(
    "raw",
    [
        "91350100m000100y43",
        " 9135 0100 M000 100Y 43 ",
        "91350100M000100Y43\n",
        "９１３５０１００Ｍ０００１００Ｙ４３",  # full-width input from a Chinese IME
        "91350100M000100Y43\u3000",  # ideographic space
    ],
)
def test_uscc_normalisation(raw: str) -> None:
    assert validate_uscc(raw) == "91350100M000100Y43"


@pytest.mark.parametrize("raw", ["", "91350100M000100Y4", "91350100M000100Y431", "9135"])
def test_uscc_length(raw: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc(raw)
    err = assert_error(exc_info, "uscc_length")
    assert "18" in err.message_zh


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", "中"])
def test_uscc_charset(bad: str) -> None:
    code = "91350100M000100Y4" + bad
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc(code)
    err = assert_error(exc_info, "uscc_charset")
    assert bad in err.message_zh
    assert "非法字符" in err.message_zh


def test_uscc_charset_checked_before_checksum() -> None:
    # lower-case "o" becomes "O" which is not allowed
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc("91350100M0o0100Y43")
    assert_error(exc_info, "uscc_charset")


def test_uscc_division_must_be_digits_even_with_valid_checksum() -> None:
    first17 = "9135A100M000100Y4"
    code = first17 + uscc_check_char(first17)  # checksum is right, division is not
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc(code)
    assert_error(exc_info, "uscc_division")


def test_uscc_checksum_message_names_expected_char() -> None:
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc("91350100M000100Y44")
    err = assert_error(exc_info, "uscc_checksum")
    assert err.message_zh == "统一社会信用代码校验位不正确，应为3"


@given(valid_uscc)
def test_generated_uscc_valid(code: str) -> None:
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@given(valid_uscc, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_CHARSET))
def test_single_substitution_in_uscc_is_rejected(code: str, pos: int, new: str) -> None:
    assume(code[pos] != new)
    mutated = code[:pos] + new + code[pos + 1 :]
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc(mutated)
    expected = "uscc_division" if 2 <= pos <= 7 and not new.isdigit() else "uscc_checksum"
    assert exc_info.value.code == expected


@given(valid_uscc, st.integers(min_value=0, max_value=15))
def test_adjacent_transposition_in_uscc_is_rejected(code: str, pos: int) -> None:
    assume(code[pos] != code[pos + 1])
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    with pytest.raises(IdentifierError) as exc_info:
        validate_uscc(swapped)
    assert exc_info.value.code in {"uscc_checksum", "uscc_division"}


def test_identifier_error_pickles() -> None:
    err = IdentifierError("uscc_length", "统一社会信用代码长度必须为18位")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.code, clone.message_zh) == (err.code, err.message_zh)


# ---------------------------------------------------------------------------
# Resident identity number
# ---------------------------------------------------------------------------


def test_known_valid_id() -> None:
    assert resident_id_check_char(KNOWN_VALID_ID[:17]) == "X"
    assert validate_resident_id(KNOWN_VALID_ID) == KNOWN_VALID_ID


@pytest.mark.parametrize(
    "raw", ["11010519491231002x", " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２ｘ"]
)
def test_id_normalisation(raw: str) -> None:
    assert validate_resident_id(raw) == KNOWN_VALID_ID


def _reference_id_check(first17: str) -> str:
    """Independent ISO 7064 MOD 11-2 implementation (weights derived, not copied)."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


# One ID per possible check character (0-9 and X).
ONE_PER_CHECK_CHAR = [
    "440106199001010005",
    "440106199001010013",
    "440106199001010021",
    "44010619900101003X",
    "440106199001010048",
    "440106199001010056",
    "440106199001010064",
    "440106199001010072",
    "440106199001010080",
    "440106199001010099",
    "440106199001010187",
]


def test_hard_coded_ids_cover_every_check_char() -> None:
    assert {i[-1] for i in ONE_PER_CHECK_CHAR} == set("0123456789X")
    for id18 in ONE_PER_CHECK_CHAR:
        assert resident_id_check_char(id18[:17]) == id18[-1]
        assert validate_resident_id(id18) == id18


@given(st.text(alphabet=DIGITS, min_size=17, max_size=17))
def test_id_check_char_matches_reference(first17: str) -> None:
    assert resident_id_check_char(first17) == _reference_id_check(first17)


def _reference_uscc_check(first17: str) -> str:
    """Independent GB 32100 implementation (weights 3**i mod 31 derived, not copied)."""
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_CHARSET[(31 - total % 31) % 31]


@given(uscc_first17)
def test_uscc_check_char_matches_reference(first17: str) -> None:
    assert uscc_check_char(first17) == _reference_uscc_check(first17)


def test_resident_id_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_char("1101051949123100X")
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_char("110105")


INVALID_IDS = [
    ("", "resident_id_length"),
    ("11010519491231002", "resident_id_length"),
    ("11010519491231002X1", "resident_id_length"),
    ("110105491231002", "resident_id_length"),  # legacy 15-digit number
    ("1101051949123100AX", "resident_id_format"),
    ("11010519491231002Y", "resident_id_format"),
    ("X10105194912310021", "resident_id_format"),
    (make_id("440106", date(2000, 1, 1), "123")[:-1] + "Z", "resident_id_format"),
    ("110105" + "19490230" + "002" + resident_id_check_char("11010519490230002"), "resident_id_birthdate"),
    ("110105" + "19491331" + "002" + resident_id_check_char("11010519491331002"), "resident_id_birthdate"),
    ("110105" + "19000229" + "002" + resident_id_check_char("11010519000229002"), "resident_id_birthdate"),
    ("110105" + "18991231" + "002" + resident_id_check_char("11010518991231002"), "resident_id_birthdate"),
    ("110105" + "29990101" + "002" + resident_id_check_char("11010529990101002"), "resident_id_birthdate"),
    ("110105" + "19490000" + "002" + resident_id_check_char("11010519490000002"), "resident_id_birthdate"),
    ("110105194912310021", "resident_id_checksum"),
    ("11010519491231002" + "0", "resident_id_checksum"),
]


@pytest.mark.parametrize(("raw", "code"), INVALID_IDS)
def test_invalid_ids(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(raw)
    err = assert_error(exc_info, code)
    # personal data must never appear in the error, not even partially
    for text in (str(err), repr(err), err.message_zh):
        assert not re.search(r"\d{5,}", text)
        if raw:
            assert raw not in text
    assert err.__cause__ is None
    assert err.__suppress_context__ or err.__context__ is None


def test_legacy_15_digit_hint() -> None:
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id("110105491231002")
    assert "15位" in exc_info.value.message_zh


def test_birthdate_boundaries() -> None:
    today = date(2025, 6, 15)
    assert validate_resident_id(make_id("440106", date(1900, 1, 1), "001"), today=today)
    assert validate_resident_id(make_id("440106", today, "001"), today=today)
    assert validate_resident_id(make_id("440106", date(2000, 2, 29), "001"), today=today)
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(make_id("440106", today + timedelta(days=1), "001"), today=today)
    assert exc_info.value.code == "resident_id_birthdate"
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(make_id("440106", date(1899, 12, 31), "001"), today=today)
    assert exc_info.value.code == "resident_id_birthdate"


def test_default_today_is_used() -> None:
    validate_resident_id(make_id("440106", date(1990, 5, 17), "123"))
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(make_id("440106", date.today() + timedelta(days=400), "123"))
    assert exc_info.value.code == "resident_id_birthdate"


@given(valid_resident_id)
def test_generated_ids_round_trip(id18: str) -> None:
    assert validate_resident_id(id18) == id18
    assert validate_resident_id(id18.lower()) == id18
    assert validate_resident_id(f" {id18[:6]} {id18[6:14]} {id18[14:]} ") == id18


@given(valid_resident_id, st.integers(min_value=0, max_value=17), st.sampled_from(DIGITS + "X"))
def test_single_substitution_in_id_is_rejected(id18: str, pos: int, new: str) -> None:
    assume(id18[pos] != new)
    mutated = id18[:pos] + new + id18[pos + 1 :]
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(mutated)
    if new == "X" and pos < 17:
        assert exc_info.value.code == "resident_id_format"
    elif 6 <= pos < 14:
        assert exc_info.value.code in {"resident_id_birthdate", "resident_id_checksum"}
    else:
        assert exc_info.value.code == "resident_id_checksum"


@given(st.text(alphabet=DIGITS + "Xx ", min_size=0, max_size=22))
def test_errors_never_leak_the_number(raw: str) -> None:
    assume(not _is_valid(raw))
    with pytest.raises(IdentifierError) as exc_info:
        validate_resident_id(raw)
    for text in (str(exc_info.value), repr(exc_info.value), exc_info.value.message_zh):
        assert not re.search(r"\d{5,}", text)


def _is_valid(id18: str) -> bool:
    try:
        validate_resident_id(id18)
    except IdentifierError:
        return False
    return True
