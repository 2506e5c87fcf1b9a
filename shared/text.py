"""Text as it crosses the API edge: what every string may contain, and what free text may not.

* Every string of every request (``RequestModel`` checks each field of a body; the edge middleware,
  shared/edge.py, checks the path and the query string) is refused with 422 when it holds a control
  character (NUL included; tab, line feed and carriage return are allowed), a bidirectional override
  or isolate (the "Trojan source" characters that make a text display differently from what it
  says) or an unpaired surrogate (it cannot be stored as UTF-8).
* Names (``DisplayName``) also refuse zero-width and other invisible characters, line breaks, and
  names with nothing visible in them.
* Free text (``FreeText``: descriptions, notes, reasons, names, addresses, commitments) is refused
  with 422 ``personal_data_in_text`` when it contains a checksum-valid resident ID number
  (GB 11643, shared/identifiers.py); public-facing free text (``PublicText``: what the public
  writes or what is published) also when it contains a mainland mobile number. A person is named
  through the roster (``person_ref``), never by their number in a sentence: free text goes to events,
  the append-only ledger and other agencies, where it can never be taken back.

Free-text fields carry ``x-free-text: internal | public`` in the OpenAPI documents;
tests/security/test_free_text_pii.py finds every one of them there and plants an ID in each.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, GetJsonSchemaHandler, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from shared.identifiers import IdentifierError, validate_resident_id

__all__ = [
    "DisplayName",
    "FreeText",
    "PublicName",
    "PublicText",
    "RequestModel",
    "check_string",
    "contains_mobile_number",
    "contains_resident_id",
    "string_problem",
]

# C0 controls except tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates, and the implicit marks (LRM, RLM, ALM).
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Zero-width and other characters that take no visible space (names only: an emoji sequence in a
# description may legitimately join with U+200D).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2064\u3164\ufeff\uffa0]"
)
_LINE_BREAKS = re.compile(r"[\t\n\r\u2028\u2029]")

# 18 characters (17 digits and a digit or X), optionally grouped with spaces or hyphens, not part
# of a longer run of digits. Full-width digits are folded first (NFKC).
_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){16}[ \-]?[0-9Xx](?![0-9A-Za-z])")
# Mainland mobile numbers: 1[3-9] and 9 more digits, optionally +86 / 0086 / 86 and grouped 3-4-4.
_MOBILE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}(?![0-9])")
_SEPARATORS = re.compile(r"[ \-]")

ID_MESSAGE_ZH = (
    "文字内容中不能填写公民身份号码；涉及人员请从人员名册中选择（使用人员编号 person_ref），不要在文字中写明证件号码"
)
MOBILE_MESSAGE_ZH = "公开内容中不能填写手机号码；联系方式请填写在专门的联系方式栏，涉及人员请使用人员名册中的人员编号"


def string_problem(value: str) -> tuple[str, str] | None:
    """The first thing no string may contain, as (code, Chinese message), or None."""
    if _CONTROL.search(value):
        return "control_characters", "不能包含控制字符"
    if _SURROGATE.search(value):
        return "invalid_unicode", "包含无法识别的字符（不成对的代理项）"
    if _BIDI.search(value):
        return "bidi_control", "不能包含改变文字显示方向的控制字符"
    return None


def check_string(value: str) -> str:
    problem = string_problem(value)
    if problem is not None:
        raise PydanticCustomError(problem[0], problem[1])
    return value


def _check_strings_in(value: Any) -> None:
    if isinstance(value, str):
        check_string(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_strings_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings_in(key)
            _check_strings_in(item)


def contains_resident_id(text: str) -> bool:
    """Whether ``text`` contains a checksum-valid resident ID number (with a real birth date)."""
    folded = unicodedata.normalize("NFKC", text)
    for match in _RESIDENT_ID.finditer(folded):
        try:
            validate_resident_id(_SEPARATORS.sub("", match.group(0)))
        except IdentifierError:
            continue
        return True
    return False


def contains_mobile_number(text: str) -> bool:
    return _MOBILE.search(unicodedata.normalize("NFKC", text)) is not None


def _free_text(value: str) -> str:
    check_string(value)
    if contains_resident_id(value):
        raise PydanticCustomError("personal_data_in_text", ID_MESSAGE_ZH)
    return value


def _public_text(value: str) -> str:
    _free_text(value)
    if contains_mobile_number(value):
        raise PydanticCustomError("personal_data_in_text", MOBILE_MESSAGE_ZH)
    return value


def _display_name(value: str) -> str:
    check_string(value)
    if _LINE_BREAKS.search(value):
        raise PydanticCustomError("invisible_characters", "名称不能包含换行或制表符")
    if _INVISIBLE.search(value):
        raise PydanticCustomError("invisible_characters", "名称不能包含零宽字符等不可见字符")
    if not any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in value):
        raise PydanticCustomError("invisible_characters", "名称必须包含可见的文字")
    return value


class _Marked:
    """Marks a free-text field in the JSON schema (``x-free-text``), wherever it is used: a field, a
    list's items, a member of a union, a query parameter."""

    def __init__(self, kind: Literal["internal", "public"]) -> None:
        self.kind = kind

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["x-free-text"] = self.kind
        return json_schema

    def __hash__(self) -> int:
        return hash(("x-free-text", self.kind))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Marked) and other.kind == self.kind


FreeText = Annotated[str, AfterValidator(_free_text), _Marked("internal")]
"""Free text read inside the administration: no resident ID number."""

PublicText = Annotated[str, AfterValidator(_public_text), _Marked("public")]
"""Free text written by the public or published: no resident ID number, no mobile number."""

DisplayName = Annotated[str, AfterValidator(_display_name), AfterValidator(_free_text), _Marked("internal")]
"""A name (a person, an inspector's agency, a plan): visible characters only, no ID number."""

PublicName = Annotated[str, AfterValidator(_display_name), AfterValidator(_public_text), _Marked("public")]
"""A name that is published (an institution, an operator): also no mobile number."""


class RequestModel(BaseModel):
    """Base of every request body: no string anywhere in it (nested lists and dicts included) holds
    a control character, a bidirectional control or an unpaired surrogate."""

    @field_validator("*", mode="after")
    @classmethod
    def _plain_strings(cls, value: Any) -> Any:
        _check_strings_in(value)
        return value
