"""A valid example of every event type in the catalogue, built from the models themselves, and the
same event as a producer one version ahead would publish it (a new optional field at every level).

The builder reads each field's annotation and constraints, so a new event type or field needs no
hand-written example; a constraint it does not know (a new ``pattern``) fails loudly with its name.
Every optional field is filled too, so every nested model of a type appears in its example.
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from shared.events import EventData
from shared.events.filing import InstitutionProfile

AT = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
ON = date(2026, 12, 15)

# A value for every ``pattern`` the event models use: a new pattern needs an entry here.
PATTERN_EXAMPLES: dict[str, str] = {
    r"^\d{6}$": "440106",
    r"^\d{9}$": "440106001",
    r"^[0-9a-f]{64}$": "5e" * 32,
    r"^[0-9a-f]{96}$": "5e" * 48,  # a drand beacon round's signature (G1, compressed)
    r"^[0-9a-f]{192}$": "5e" * 96,  # a drand beacon's public key (G2, compressed)
    r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$": "Xl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl4=",  # base64 of the same
    r"^v[0-9]+$": "v1",
    r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$": "07:30-18:00",
    r"^[0-9+\-() ]{7,20}$": "020-87000001",
}

# The field a producer one version ahead adds, at every level of the payload: optional for it, unknown
# to today's models. Its value is itself nested, so a reader that validated it would notice.
FUTURE_FIELD = "added_in_next_version"
FUTURE_VALUE: dict[str, Any] = {"note": "下一版本新增的可选字段", "items": [1, 2]}
FUTURE_EXTENSION = "nextversionattr"  # a CloudEvents extension attribute (lowercase a-z0-9, ≤ 20)


def example(model: type[EventData], *, seed: int = 1) -> EventData:
    """A valid instance of ``model`` with every field (optional ones included) filled."""
    return model(**_fields(model, seed))


def _fields(model: type[BaseModel], seed: int) -> dict[str, Any]:
    # keyed as the constructor takes them: by alias where a field has one (as on the wire)
    return {
        info.alias or name: _value(info.annotation, info, f"{model.__name__}.{name}", seed)
        for name, info in model.model_fields.items()
    }


def _constraint(info: FieldInfo | None, kind: type[Any], attr: str) -> Any:
    for item in info.metadata if info is not None else ():
        if isinstance(item, kind):
            return getattr(item, attr)
    return None


def _pattern(info: FieldInfo | None) -> str | None:
    for item in info.metadata if info is not None else ():
        if getattr(item, "pattern", None) is not None:
            return str(item.pattern)
    return None


def _value(annotation: Any, info: FieldInfo | None, where: str, seed: int) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        return _value(present[0], info, where, seed)
    if origin is Literal:
        return args[0]
    if origin is list:
        count = max(1, _constraint(info, annotated_types.MinLen, "min_length") or 0)
        return [_value(args[0], None, f"{where}[]", seed + i) for i in range(count)]
    if origin is dict:
        return {"key": _value(args[1], None, f"{where}{{}}", seed)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation(**_fields(annotation, seed))
    if annotation is uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{where}/{seed}")
    if annotation is datetime:
        return AT
    if annotation is date:
        return ON
    if annotation is bool:
        return True
    if annotation is int:
        return _number(info, 3)
    if annotation is float:
        return float(_number(info, 2.5))
    if annotation is str or annotation is Any:
        return _text(info, where)
    raise AssertionError(f"tests/event_examples.py cannot build {where}: {annotation!r}")


def _number(info: FieldInfo | None, default: float) -> float:
    low = _constraint(info, annotated_types.Ge, "ge")
    high = _constraint(info, annotated_types.Le, "le")
    if low is not None and high is not None:
        return (low + high) // 2
    if low is not None:
        return max(low, default)
    above = _constraint(info, annotated_types.Gt, "gt")
    return above + default if above is not None else default


def _text(info: FieldInfo | None, where: str) -> str:
    pattern = _pattern(info)
    if pattern is not None:
        if pattern not in PATTERN_EXAMPLES:
            raise AssertionError(f"{where}: add an example for pattern {pattern!r} to PATTERN_EXAMPLES")
        value = PATTERN_EXAMPLES[pattern]
        assert re.fullmatch(pattern, value), (where, pattern)
        return value
    length = _constraint(info, annotated_types.MinLen, "min_length")
    return "测试" + "x" * max(0, (length or 0) - 2) if length and length > 2 else "测试值"


def with_future_fields(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a payload of ``model`` as JSON) with ``FUTURE_FIELD`` added to it and to every
    nested model in it (in lists and dict values too). Free-form values (``dict[str, Any]``) are data,
    not schema, and are left as they are."""
    grown = {
        name: _grow(model.model_fields[name].annotation, value) if name in model.model_fields else value
        for name, value in data.items()
    }
    grown[FUTURE_FIELD] = FUTURE_VALUE
    return grown


def _grow(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return _grow(models[0], value) if models and isinstance(value, dict) else value
    if origin is list:
        return [_grow(args[0], item) for item in value]
    if origin is dict:
        return {k: _grow(args[1], v) for k, v in value.items()}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return with_future_fields(annotation, value)
    return value


def nesting_levels(model: type[BaseModel], data: dict[str, Any]) -> int:
    """How many objects of ``data`` are instances of a model (the top level included): the places a
    future field was added to by ``with_future_fields``."""
    return 1 + sum(
        _count(model.model_fields[name].annotation, value) for name, value in data.items() if name in model.model_fields
    )


def _count(annotation: Any, value: Any) -> int:
    if value is None:
        return 0
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return _count(models[0], value) if models and isinstance(value, dict) else 0
    if origin is list:
        return sum(_count(args[0], item) for item in value)
    if origin is dict:
        return sum(_count(args[1], v) for v in value.values())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return nesting_levels(annotation, value)
    return 0


NEW_PROFILE_FIELD = "outdoor_area_m2"


def field_unknown_to_todays_profile() -> str:
    """The profile field a newer producer adds that this checkout's consumers do not know.

    Issue 17 adds ``outdoor_area_m2`` (户外活动场地面积) to the profile; until it lands in
    ``InstitutionProfile``, this checkout *is* a consumer built from the commit before the field,
    and the test feeds it the very field. Once the field has landed, the older consumer is simulated
    the same way one version later: by the next field a newer producer might add at the same nested
    level, which today's model does not know either.
    """
    if NEW_PROFILE_FIELD not in InstitutionProfile.model_fields:
        return NEW_PROFILE_FIELD
    later = "shaded_outdoor_area_m2"
    assert later not in InstitutionProfile.model_fields
    return later
