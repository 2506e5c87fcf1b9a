"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.security.schemathesis_control_characters): every
generated string of a body, query or path gets a control, bidi or invisible character in its middle,
so that the run is also a run of hostile strings (tests/security/test_schemathesis.py)."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

HOSTILE = ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200b", "\ufeff", "\r\n\t"]
_next = itertools.cycle(HOSTILE)


def _spoil(value: Any) -> Any:
    if isinstance(value, str):
        middle = len(value) // 2
        return value[:middle] + next(_next) + value[middle:]
    if isinstance(value, list):
        return [_spoil(v) for v in value]
    if isinstance(value, dict):
        return {k: _spoil(v) for k, v in value.items()}
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _spoil(body)


@schemathesis.hook
def map_query(context: Any, query: Any) -> Any:
    return _spoil(query)


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: Any) -> Any:
    return _spoil(path_parameters)
