"""Validation of Chinese official identifiers.

* Unified social credit code (统一社会信用代码), GB 32100-2015 — identifies the
  legal entity operating a childcare institution.
* Resident identity number (公民身份号码), GB 11643-1999 — identifies a person
  (legal representative, staff member). This is personal data: error messages
  and exceptions raised here never contain the number or any part of it.

Both validators normalise their input (Unicode NFKC so full-width characters
typed with a Chinese IME are accepted, all whitespace removed, upper case) and
return the normalised value, or raise :class:`IdentifierError` with a stable
English ``code`` and a user-facing Simplified Chinese ``message_zh``.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone

__all__ = [
    "RESIDENT_ID_CHECK_CHARS",
    "RESIDENT_ID_WEIGHTS",
    "USCC_CHARSET",
    "USCC_WEIGHTS",
    "IdentifierError",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_resident_id",
    "normalise_identifier",
    "validate_uscc",
]

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters allowed in a USCC (no I, O, Z, S, V)."""

USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""Weights of positions 1-17 (3**i mod 31)."""

_USCC_INDEX = {ch: i for i, ch in enumerate(USCC_CHARSET)}

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""Weights of positions 1-17 (2**(17-i) mod 11), ISO 7064 MOD 11-2."""

RESIDENT_ID_CHECK_CHARS = "10X98765432"
"""Check character indexed by (weighted sum mod 11)."""

_DIGITS = frozenset("0123456789")
_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # China has no DST
_MIN_BIRTH_YEAR = 1900


class IdentifierError(ValueError):
    """An identifier failed validation.

    ``code`` is a stable English error code for clients and logs;
    ``message_zh`` is a Simplified Chinese message suitable for end users.
    """

    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str]]:
        return (type(self), (self.code, self.message_zh))


def normalise_identifier(value: str) -> str:
    """NFKC (full-width -> ASCII), drop all whitespace, upper-case."""
    if not isinstance(value, str):
        raise TypeError("identifier must be a str")
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


# ---------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码)
# ---------------------------------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """Return the check character (position 18) for the first 17 characters of a USCC.

    ``first17`` must already be upper case and consist of 17 characters from
    :data:`USCC_CHARSET`; otherwise :class:`ValueError` is raised.
    """
    if len(first17) != 17:
        raise ValueError("first17 must be exactly 17 characters")
    try:
        total = sum(_USCC_INDEX[ch] * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError:
        raise ValueError("first17 contains a character outside the USCC charset") from None
    c = 31 - total % 31
    return USCC_CHARSET[0 if c == 31 else c]


def validate_uscc(code: str) -> str:
    """Validate a unified social credit code and return it normalised.

    Checks, in order: length (``uscc_length``), charset (``uscc_charset``),
    administrative division code at positions 3-8 (``uscc_division``) and the
    check character (``uscc_checksum``).
    """
    value = normalise_identifier(code)
    if len(value) != 18:
        raise IdentifierError("uscc_length", f"统一社会信用代码长度必须为18位，当前为{len(value)}位")
    bad = sorted({ch for ch in value if ch not in _USCC_INDEX})
    if bad:
        shown = "、".join(f"“{ch}”" for ch in bad[:5])
        raise IdentifierError(
            "uscc_charset",
            f"统一社会信用代码含非法字符{shown}；只能由数字和除I、O、Z、S、V以外的大写英文字母组成",
        )
    if not all(ch in _DIGITS for ch in value[2:8]):
        raise IdentifierError("uscc_division", "统一社会信用代码第3至8位（登记管理机关行政区划码）必须为数字")
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise IdentifierError("uscc_checksum", f"统一社会信用代码校验位不正确，应为{expected}")
    return value


# ---------------------------------------------------------------------------
# Resident identity number (公民身份号码)
# ---------------------------------------------------------------------------


def resident_id_check_char(first17: str) -> str:
    """Return the check character (digit or ``X``) for the first 17 digits of a resident ID.

    Raises :class:`ValueError` (without echoing the input) if ``first17`` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not all(ch in _DIGITS for ch in first17):
        raise ValueError("first17 must be exactly 17 ASCII digits")
    total = sum(int(ch) * w for ch, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def _today_china() -> date:
    return datetime.now(_CHINA_TZ).date()


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """Validate an 18-digit resident identity number and return it normalised (``X`` upper case).

    Checks, in order: length (``resident_id_length``), format — 17 digits then a
    digit or X (``resident_id_format``), birth date at positions 7-14 is a real
    date between 1900-01-01 and ``today`` (``resident_id_birthdate``; ``today``
    defaults to the current date in China) and the check character
    (``resident_id_checksum``). Error messages never contain the number.
    """
    number = normalise_identifier(value)
    if len(number) != 18:
        hint = "（不支持15位旧号码，请使用18位号码）" if len(number) == 15 else ""
        raise IdentifierError("resident_id_length", f"公民身份号码长度必须为18位，当前为{len(number)}位{hint}")
    if not all(ch in _DIGITS for ch in number[:17]) or number[17] not in _DIGITS | {"X"}:
        raise IdentifierError("resident_id_format", "公民身份号码格式不正确：前17位必须为数字，最后一位必须为数字或X")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError("resident_id_birthdate", "公民身份号码中的出生日期不是有效日期") from None
    if birth.year < _MIN_BIRTH_YEAR:
        raise IdentifierError("resident_id_birthdate", "公民身份号码中的出生日期早于1900年")
    if birth > (today if today is not None else _today_china()):
        raise IdentifierError("resident_id_birthdate", "公民身份号码中的出生日期晚于当前日期")
    if number[17] != resident_id_check_char(number[:17]):
        raise IdentifierError("resident_id_checksum", "公民身份号码校验位不正确，请核对后重新输入")
    return number
