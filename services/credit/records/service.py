"""Credit records (诚信档案) and their entries: a record opened by the first fact about a subject,
entries written from other services' events (ids a function of subject, rule and source, so a
replay gives the same ids), staged within a consumed batch and written at its end.

No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.env import CreditEnv
from services.credit.models import (
    CreditEntry,
)
from shared.batch import BatchCollector
from shared.events import EventData
from shared.events.credit import (
    CreditRecordOpenedV1,
)
from shared.outbox import Outbox

# Entry ids are a function of (subject, rule, source): the same facts give the same ids on replay.
ENTRY_NAMESPACE = uuid.UUID("6f1c4a52-3f0e-4d8e-9d55-2b8f6a1c0c11")


@dataclass(frozen=True)
class Source:
    """The event an entry or a record comes from."""

    event_id: str
    event_type: str


def entry_id_for(kind: str, subject_id: str, rule_id: str, source_key: str) -> uuid.UUID:
    return uuid.uuid5(ENTRY_NAMESPACE, f"{kind}|{subject_id}|{rule_id}|{source_key}")


def announced(what: str, at: datetime) -> str:
    """The key of a derived event's id (``Outbox.add(derived_from=)``): the state it announces and when
    the subject's timeline reached it, not the event that happened to reach it. Grades and list
    stays are a function of the subject's facts, so a replay that applies the records in the order
    the live service did (``services.credit.restore``) announces each state it reaches under the id
    the live service gave it, however its batches fall, and every consumer's inbox drops it.
    (Records applied in another order can pass through states the live service never was in, with
    ids of their own: hence the command, not a bare group reset, for an empty database.)"""
    return f"{what}@{at.astimezone(UTC).isoformat(timespec='microseconds')}"


@dataclass(frozen=True)
class _StagedSubject:
    """A subject row an event opens or folds into the record; ``opened`` (its time and event id)
    announces the record if this row creates it."""

    key: tuple[str, str]
    row: dict[str, object]
    opened: tuple[datetime, str]
    outbox: Outbox


@dataclass(frozen=True)
class _StagedEntry:
    entry_id: uuid.UUID
    row: dict[str, object]


async def _write_staged(session: AsyncSession, staged: list[_StagedSubject | _StagedEntry]) -> None:
    """Subject rows (one upsert; the records it created announced in the order their first events
    arrived — the order announcing each at once would have given), then entries (one executemany)."""
    subjects: dict[tuple[str, str], _StagedSubject] = {}
    entries: dict[uuid.UUID, dict[str, object]] = {}
    for item in staged:
        if isinstance(item, _StagedEntry):
            entries.setdefault(item.entry_id, item.row)  # the first one recorded wins, as ON CONFLICT DO NOTHING
        elif item.key in subjects:
            repository.fold_subject(subjects[item.key].row, item.row)
        else:  # the first event of the batch about the subject opens the record if it is new
            subjects[item.key] = _StagedSubject(item.key, dict(item.row), item.opened, item.outbox)
    if subjects:
        # rows in key order: two consumers writing overlapping subjects lock them in the same order
        inserted = await repository.upsert_subjects(session, [subjects[key].row for key in sorted(subjects)])
        for key, first in subjects.items():
            if key in inserted:
                await _announce_opened(session, first.outbox, key, *first.opened)
    if entries:
        await repository.insert_entries_if_absent(session, [entries[key] for key in sorted(entries)])


# Subject rows and entries the handlers of a consumed batch recorded, written with one statement
# each before anything reads them (``write_staged``): at the batch's end, or earlier when a handler
# reads or updates subjects itself. Outside a batch each is written when recorded.
_STAGED: BatchCollector[_StagedSubject | _StagedEntry] = BatchCollector("credit.staged", _write_staged)


def subject_row(
    *,
    kind: str,
    subject_id: str,
    at: datetime,
    source: Source,
    display_name: str | None = None,
    district_code: str | None = None,
) -> dict[str, object]:
    """The subject row one event contributes (``repository.fold_subject`` folds several into one)."""
    return {
        "id": uuid.uuid4(),
        "subject_kind": kind,
        "subject_id": subject_id,
        "display_name": display_name,
        "district_code": district_code,
        "opened_at": at,
        "opened_by_event_id": source.event_id,
        "profile_at": at if display_name is not None else None,
    }


async def open_record(
    session: AsyncSession,
    outbox: Outbox,
    *,
    kind: str,
    subject_id: str,
    at: datetime,
    source: Source,
    display_name: str | None = None,
    district_code: str | None = None,
) -> None:
    """Open the subject's record (or fold a later/earlier event into it); a new record is announced
    (``CreditRecordOpenedV1``). Inside a consumed batch the row is staged and the batch's rows are
    written together (``write_staged``)."""
    key = (kind, subject_id)
    row = subject_row(
        kind=kind,
        subject_id=subject_id,
        at=at,
        source=source,
        display_name=display_name,
        district_code=district_code,
    )
    await _STAGED.add(session, _StagedSubject(key, row, (at, source.event_id), outbox))


@dataclass(frozen=True)
class Announcement:
    """An event credit derives from its state, with what ``Outbox.add`` needs: computed by pure
    functions (here and in ``evaluation.service``) that the live path and the bulk rebuild share."""

    data: EventData
    subject: str
    at: datetime | None
    derived_from: str


async def announce(session: AsyncSession, outbox: Outbox, announcements: list[Announcement]) -> None:
    for item in announcements:
        await outbox.add(session, item.data, subject=item.subject, at=item.at, derived_from=item.derived_from)


def opened_announcement(key: tuple[str, str], at: datetime, event_id: str) -> Announcement:
    kind, subject_id = key
    return Announcement(
        CreditRecordOpenedV1(
            subject_kind="institution" if kind == "institution" else "person",
            subject_id=subject_id,
            opened_at=at,
            cause_event_id=event_id,
        ),
        subject_id,
        at,
        "opened",  # a record opens once, whichever event opened it
    )


async def _announce_opened(
    session: AsyncSession, outbox: Outbox, key: tuple[str, str], at: datetime, event_id: str
) -> None:
    await announce(session, outbox, [opened_announcement(key, at, event_id)])


async def write_staged(session: AsyncSession) -> None:
    """Write what the batch's handlers staged so far (``_write_staged``). Outside a batch nothing is
    ever staged."""
    await _STAGED.flush(session)


def deregistered_at(held: datetime | None, at: datetime) -> datetime:
    """The date a record keeps when an institution is (again) said deregistered at ``at``: the
    earliest (``repository.mark_deregistered`` writes the same in SQL)."""
    return at if held is None else min(held, at)


async def mark_deregistered(session: AsyncSession, institution_id: str, at: datetime) -> None:
    await write_staged(session)  # the record may have been opened earlier in this batch
    await repository.mark_deregistered(session, "institution", institution_id, at)


async def record_entry(
    session: AsyncSession,
    env: CreditEnv,
    *,
    kind: str,
    subject_id: str,
    rule_id: str,
    source_key: str,
    source: Source,
    effective_from: datetime,
    detail_zh: str,
    legal_basis: str | None = None,
) -> None:
    """Append an entry once per (subject, rule, source fact); nothing if it is already there or no
    policy version applies the rule to this kind of subject. Inside a consumed batch the entry is
    staged and written with the batch's others (``write_staged``), before any evaluation reads them.

    An entry holds the fact only (rule id, times, the event's own legal basis): what it is worth —
    points, counting period, the rule's basis — is read from the version in force when evaluating.
    Nothing here depends on which activations this database has seen yet, so a replay that reads the
    credit topic after the inspection topic records the same row."""
    entry = new_entry(
        env,
        kind=kind,
        subject_id=subject_id,
        rule_id=rule_id,
        source_key=source_key,
        source=source,
        effective_from=effective_from,
        detail_zh=detail_zh,
        legal_basis=legal_basis,
        recorded_at=env.now(),
    )
    if entry is None:
        return
    await _STAGED.add(session, _StagedEntry(entry.id, repository.entry_row(entry)))


def new_entry(
    env: CreditEnv,
    *,
    kind: str,
    subject_id: str,
    rule_id: str,
    source_key: str,
    source: Source,
    effective_from: datetime,
    detail_zh: str,
    legal_basis: str | None,
    recorded_at: datetime,
) -> CreditEntry | None:
    """The entry row (not attached to a session), or None when no policy version applies the rule
    to this kind of subject."""
    if not any(kind in p.rules[rule_id].applies_to for v in env.registry.versions() if (p := env.registry.get(v))):
        return None
    return CreditEntry(
        id=entry_id_for(kind, subject_id, rule_id, source_key),
        subject_kind=kind,
        subject_id=subject_id,
        rule_id=rule_id,
        source_key=source_key,
        source_event_id=source.event_id,
        source_event_type=source.event_type,
        effective_from=effective_from,
        legal_basis=legal_basis,
        detail_zh=detail_zh,
        recorded_at=recorded_at,
    )


async def display_names(session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return await repository.display_names(session, keys)
