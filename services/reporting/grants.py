"""Data-sharing grants (数据共享授权): which event types, and which data fields of each, an agency
may read from the shared ledger. Configuration (``grants.yaml``), validated against the event
catalogue at load time so a typo fails the start-up instead of silently hiding data. Pure apart
from reading the file.

A field is a top-level data field (``institution_id``) or a dotted path into a nested object
(``profile.total_slots``); granting a parent grants everything beneath it. Lists are granted whole.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from shared.events import CATALOGUE

DEFAULT_GRANTS_FILE = Path(__file__).resolve().parent / "grants.yaml"


class GrantsError(ValueError):
    pass


@dataclass(frozen=True)
class Grant:
    agency: str
    description: str
    fields_by_type: Mapping[str, frozenset[str]]

    def allows(self, event_type: str) -> bool:
        return event_type in self.fields_by_type


@dataclass(frozen=True)
class Grants:
    agencies: Mapping[str, Grant]

    def for_agencies(self, names: Iterable[str]) -> dict[str, frozenset[str]]:
        """The union of the named agencies' grants (a token may carry several agency roles)."""
        merged: dict[str, set[str]] = {}
        for name in names:
            grant = self.agencies.get(name)
            if grant is None:
                continue
            for event_type, fields in grant.fields_by_type.items():
                merged.setdefault(event_type, set()).update(fields)
        return {t: frozenset(f) for t, f in merged.items()}

    def common(self) -> dict[str, frozenset[str]]:
        """What every agency may see: the types all of them are granted, with the fields all of
        them are granted (a path counts if each agency has it or one of its parents)."""
        grants = list(self.agencies.values())
        if not grants:
            return {}
        types = set(grants[0].fields_by_type).intersection(*(g.fields_by_type for g in grants[1:]))
        out: dict[str, frozenset[str]] = {}
        for event_type in types:
            candidates = set().union(*(g.fields_by_type[event_type] for g in grants))
            shared = {p for p in candidates if all(_covered(p, g.fields_by_type[event_type]) for g in grants)}
            out[event_type] = frozenset(p for p in shared if not any(_is_ancestor(q, p) for q in shared))
        return out


def _is_ancestor(parent: str, path: str) -> bool:
    return path.startswith(parent + ".")


def _covered(path: str, granted: frozenset[str]) -> bool:
    return path in granted or any(_is_ancestor(g, path) for g in granted)


def project(data: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """Only the granted fields of ``data`` (absent fields stay absent)."""
    out: dict[str, Any] = {}
    for path in sorted(fields):
        head, _, rest = path.partition(".")
        if head not in data:
            continue
        if not rest:
            out[head] = data[head]
        elif isinstance(data[head], Mapping):
            inner = project(data[head], frozenset({rest}))
            if inner:
                existing = out.setdefault(head, {})
                if isinstance(existing, dict):
                    _merge(existing, inner)
    return out


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, Mapping):
            _merge(into[key], value)
        else:
            into[key] = value


def _check_path(model: type[BaseModel], path: str) -> bool:
    current: Any = model
    for part in path.split("."):
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return False
        annotation = current.model_fields[part].annotation
        current = _nested_model(annotation)
    return True


def _nested_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():  # Optional[Model]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def parse_grants(raw: Any) -> Grants:
    if not isinstance(raw, dict) or not isinstance(raw.get("agencies"), dict):
        raise GrantsError("grants file must have a mapping 'agencies'")
    agencies: dict[str, Grant] = {}
    for agency, body in raw["agencies"].items():
        if not isinstance(agency, str) or not agency or not isinstance(body, dict):
            raise GrantsError(f"agency {agency!r}: expected a name and a mapping")
        events = body.get("events") or {}
        if not isinstance(events, dict):
            raise GrantsError(f"agency {agency}: 'events' must map event types to field lists")
        fields_by_type: dict[str, frozenset[str]] = {}
        for event_type, fields in events.items():
            model = CATALOGUE.get(event_type)
            if model is None:
                raise GrantsError(f"agency {agency}: unknown event type {event_type}")
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise GrantsError(f"agency {agency}, {event_type}: fields must be a list of names")
            bad = [f for f in fields if not _check_path(model, f)]
            if bad:
                raise GrantsError(f"agency {agency}, {event_type}: no such fields {bad}")
            fields_by_type[event_type] = frozenset(fields)
        agencies[agency] = Grant(
            agency=agency, description=str(body.get("description", "")), fields_by_type=fields_by_type
        )
    return Grants(agencies=agencies)


@functools.cache
def load_grants(path: Path = DEFAULT_GRANTS_FILE) -> Grants:
    with path.open(encoding="utf-8") as f:
        return parse_grants(yaml.safe_load(f))
