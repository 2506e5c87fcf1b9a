"""RFC 8785 JSON Canonicalization Scheme (JCS), the subset the ledger needs. Pure.

Supported: objects with string keys (sorted by UTF-16 code units), arrays, strings, booleans, null,
integers with |n| <= 2^53 and finite floats (ECMAScript Number.prototype.toString formatting, which
RFC 8785 §3.2.2.3 prescribes). Refused with ``ValueError``: NaN and infinities, integers beyond
2^53 (an IEEE 754 double cannot hold them exactly, so other JCS implementations would disagree),
strings with lone surrogates (not valid UTF-8), and any other Python type. Output has no whitespace;
strings escape only what JSON requires (``"``, ``\\``, control characters), everything else is
literal UTF-8.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

MAX_SAFE_INTEGER = 2**53


# The json module's C encoder writes exactly the canonical form of a value whose every float prints
# the same under Python's repr as under ECMAScript (non-integral, 1e-4 <= |x| < 1e15: both print the
# shortest round-trip digits without an exponent; an integral one is written as the int it equals)
# and whose object keys sort the same by code point as by UTF-16 code unit (no key character beyond
# the BMP). ``_prepared`` makes that value (sharing every part it does not change) or says it cannot;
# then the general writer decides. Pinned against the general writer by a property test.
_C_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
_BMP_END = "\U00010000"
_GENERAL: Any = object()


def canonicalize(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``."""
    text = _flat(value)
    if text is None:
        prepared = _prepared(value)
        text = _general(value) if prepared is _GENERAL else _C_ENCODE(prepared)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("string contains a lone surrogate") from exc


def _scalar(value: Any) -> str | None:
    """The canonical text of a string, a safe integer, a boolean or null; None for anything else."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return str(value) if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else None
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return None


def _flat(value: Any) -> str | None:
    """A scalar or an array of scalars (no float) written directly, or None. A version-2 leaf
    canonicalizes ~40 of these per event (each field's salt input ``[source, id, path]`` and its
    disclosure ``[salt, path, value]``): through ``_prepared`` and ``JSONEncoder.encode`` (which
    builds a C encoder per call) they were about a third of the reporting rebuild's CPU. Pinned
    against the general writer by the same property test as the C encoder's path."""
    if type(value) is list:
        parts = [encode_basestring(item) if type(item) is str else _scalar(item) for item in value]
        return None if None in parts else "[" + ",".join(parts) + "]"  # type: ignore[arg-type]
    return _scalar(value)


def _general(value: Any) -> str:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _prepared(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else _GENERAL
    if kind is float:
        if value.is_integer():
            return int(value) if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else _GENERAL
        return value if 1e-4 <= abs(value) < 1e15 else _GENERAL
    # Containers are copied only when a child changes (an integral float): most documents need no
    # change, and copying every container measured 21 → 31 µs per ledger leaf.
    if kind is dict:
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < _BMP_END):
                return _GENERAL
            if type(item) is str:  # most values: no call for them
                continue
            ready = _prepared(item)
            if ready is _GENERAL:
                return _GENERAL
            if ready is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = ready
        return value if changed is None else changed
    if kind is list:
        out: list[Any] | None = None
        for i, item in enumerate(value):
            if type(item) is str:
                continue
            ready = _prepared(item)
            if ready is _GENERAL:
                return _GENERAL
            if ready is not item:
                if out is None:
                    out = list(value)
                out[i] = ready
        return value if out is None else out
    return _GENERAL  # tuples, subclasses, other types: the general writer decides (or refuses)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond 2^53 and cannot be canonicalized exactly")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("object keys must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    else:
        raise ValueError(f"cannot canonicalize {type(value).__name__}")


def _string(value: str) -> str:
    # The C encoder of the json module escapes exactly RFC 8785's set (``"``, ``\\``, the short forms
    # \b \f \n \r \t, other control characters as lowercase \u00xx) and leaves every other
    # character literal, as JCS requires; ~50× faster than a per-character loop. Pinned against the
    # reference loop by tests/unit/test_jcs.py.
    return encode_basestring(value)


def format_number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"  # also -0
    if value < 0:
        return "-" + format_number(-value)
    # repr gives the shortest digit string that round-trips, as ECMAScript requires.
    sign, digits_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    exponent += len("".join(map(str, digits_tuple))) - len(digits)
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
