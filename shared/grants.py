"""Data-sharing grants (数据共享授权): which event types, and which data fields of each, an agency
may read. Configuration (``shared/grants.yaml``, setting ``grants_file`` of every service),
validated against the event catalogue at load time so a typo fails the start-up instead of
silently hiding data. Pure apart from reading the file.

A field is a top-level data field (``institution_id``) or a dotted path into a nested object
(``profile.total_slots``); granting a parent grants everything beneath it. Lists are granted whole.

The grants say what an agency may read everywhere, not only in the reporting service's ledger:
an answer an agency may ask for (an institution summary, a credit list, a plan or a draw record)
declares, per field, the event field(s) it shows (``Sources``); ``AgencyView.redact`` keeps only the
fields the caller's grant covers (deny by default: a field without a source is never shown to an
agency), and an answer of which the grant covers nothing is refused like a caller without any grant:
403 ``no_data_sharing_grant``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from shared.auth import Principal
from shared.errors import Forbidden
from shared.events import CATALOGUE
from shared.settings import ServiceSettings

DEFAULT_GRANTS_FILE = Path(__file__).resolve().parent / "grants.yaml"


class GrantsError(ValueError):
    pass


class NoDataSharingGrant(Forbidden):
    code = "no_data_sharing_grant"
    message_zh = "该部门没有数据共享授权，无权读取此数据"


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


def grants_of(settings: ServiceSettings) -> Grants:
    """The grants the service's settings name (loaded once per file)."""
    return load_grants(settings.grants_file)


# An answer field's sources: the (event type, event field) pairs it shows; any one granted shows it.
Source = tuple[str, str]
Sources = Mapping[str, Sequence[Source]]


@dataclass(frozen=True)
class AgencyView:
    """What a caller may see of the answers agencies may read: everything (``fields_by_type`` None:
    a role that sees the full answer, e.g. ops or supervisor) or only what its grants cover."""

    fields_by_type: Mapping[str, frozenset[str]] | None

    @property
    def full(self) -> bool:
        return self.fields_by_type is None

    def covers(self, event_type: str, field: str) -> bool:
        if self.fields_by_type is None:
            return True
        granted = self.fields_by_type.get(event_type)
        return granted is not None and _covered(field, granted)

    def covers_any(self, sources: Sources) -> bool:
        return any(self.covers(t, f) for alternatives in sources.values() for t, f in alternatives)

    def require(self, sources: Sources) -> None:
        """Refuse (403 ``no_data_sharing_grant``) an answer of which the grant covers nothing."""
        if not self.covers_any(sources):
            raise NoDataSharingGrant("该部门的数据共享授权不包括此类数据")

    def redact(self, answer: Mapping[str, Any], sources: Sources) -> dict[str, Any]:
        """Only the fields of ``answer`` whose sources the grant covers. ``sources`` is keyed by
        dotted answer path; a list's items are reached through the list's own path
        (``violations.open_items.code``). An answer of which nothing is covered is refused (403)."""
        if self.fields_by_type is None:
            return dict(answer)
        self.require(sources)
        out = _redact(answer, sources, self, "")
        return out if isinstance(out, dict) else {}


def _redact(value: Any, sources: Sources, view: AgencyView, prefix: str) -> Any:
    if isinstance(value, list):
        return [_redact(item, sources, view, prefix) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, inner in value.items():
        path = f"{prefix}{key}"
        alternatives = sources.get(path)
        if alternatives is not None:
            if any(view.covers(t, f) for t, f in alternatives):
                out[key] = inner
        else:
            nested = [alt for p, alts in sources.items() if p.startswith(path + ".") for alt in alts]
            if any(view.covers(t, f) for t, f in nested):
                out[key] = _redact(inner, sources, view, path + ".")
    return out


def agency_view(principal: Principal, grants: Grants, *, full_roles: Iterable[str]) -> AgencyView:
    """The caller's view: the full answer for a holder of one of ``full_roles``, else the union of
    its agencies' grants; a caller with neither (an agency without a grant) is refused with 403
    ``no_data_sharing_grant``."""
    if any(principal.has(role) for role in full_roles):
        return AgencyView(fields_by_type=None)
    granted = grants.for_agencies(principal.agencies)
    if not granted:
        raise NoDataSharingGrant()
    return AgencyView(fields_by_type=granted)
