"""Incident use cases for people: the list, one incident with its members and timeline (from
the read models), and a note on an incident's timeline.

An incident lives in its group's stream (``helios.domain.incident``); the read models say which
group an incident id belongs to, and the note is decided and appended there.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
import attrs
import msgspec

from helios.apps.application.keyed import command_scope, fingerprint, once_per_key
from helios.apps.application.paging import Page
from helios.apps.application.repository import INCIDENT_GROUP, Repository
from helios.apps.views import incidents as view
from helios.domain import incident
from helios.domain.values import Millis
from helios.ports.event_store import EventStore
from helios.ports.idempotency import IdempotencyStore, StoredResponse
from helios.ports.read_models import ReadModels


class NoSuchIncident(LookupError):
    """The tenant has no incident with this id."""


IncidentRow = view.IncidentRow
MemberRow = view.MemberRow
TimelineRow = view.TimelineRow


@attrs.frozen(kw_only=True)
class IncidentView:
    incident: IncidentRow
    members: tuple[MemberRow, ...]
    timeline: tuple[TimelineRow, ...]


def incident_page(
    read_models: ReadModels,
    *,
    tenant: str,
    status: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> Page[IncidentRow]:
    """The tenant's incidents (of ``status`` when given), most recently opened first, after
    the (opened_at, incident_id) position ``after``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows, more = view.page(read_models, tenant=tenant, status=status, after=after, limit=limit)
    return Page(items=tuple(rows), more=more)


def incident_view(read_models: ReadModels, *, tenant: str, incident_id: str) -> IncidentView:
    """One of the tenant's incidents with its members (by dedup key) and its timeline.

    Raises:
        NoSuchIncident: the tenant has no such incident.
        StoreUnavailable: the read models cannot be reached.
    """
    found = view.by_id(read_models, tenant=tenant, incident_id=incident_id)
    if found is None:
        raise NoSuchIncident(incident_id)
    return IncidentView(
        incident=found,
        members=tuple(view.members(read_models, tenant=tenant, incident_id=incident_id)),
        timeline=tuple(view.timeline(read_models, incident_id=incident_id)),
    )


def add_note(
    store: EventStore,
    read_models: ReadModels,
    *,
    tenant: str,
    incident_id: str,
    author: str,
    text: str,
    at: Millis,
) -> incident.IncidentNoteAdded:
    """Add a note to an incident's timeline; returns the recorded note.

    Raises:
        CommandRejected: the note breaks the decider's rule (blank, too long), checked before
            the incident is looked up.
        NoSuchIncident: the tenant has no such incident.
        ConcurrencyConflict: the group's stream kept changing.
        StoreUnavailable: the store or the read models cannot be reached.
    """
    incident.check_note(text)
    group_key = incident_group(read_models, tenant=tenant, incident_id=incident_id)
    if group_key is None:
        raise NoSuchIncident(incident_id)
    command = incident.AddNote(incident_id=incident_id, author=author, text=text, at=at)
    _, events = Repository(store).execute(
        INCIDENT_GROUP, (tenant, group_key), lambda state: incident.decide(command, state)
    )
    [added] = events
    assert isinstance(added, incident.IncidentNoteAdded)
    return added


@attrs.frozen(kw_only=True)
class NoteRecorded:
    """A note as recorded on the incident's timeline (the same answer to every retry)."""

    incident_id: str
    author: str
    text: str
    at: Millis


class _Recorded(msgspec.Struct):
    incident_id: str
    author: str
    text: str
    at: int


async def add_note_once(
    store: EventStore,
    read_models: ReadModels,
    idempotency: IdempotencyStore,
    *,
    tenant: str,
    user_id: str,
    incident_id: str,
    author: str,
    text: str,
    clock: Callable[[], Millis],
    idempotency_key: str | None,
) -> NoteRecorded:
    """``add_note`` at the clock's time; with ``idempotency_key``, once per key (a retry gets
    the note the first request recorded, and records nothing).

    Raises:
        CommandRejected: the note is blank or too long.
        NoSuchIncident: the tenant has no such incident.
        IdempotencyKeyReused: the key was used for another request (422).
        RequestInFlight: the key's first request is being processed (409).
        CannotAdmitNow: the idempotency store is down (503).
        ConcurrencyConflict: the group's stream kept changing.
        StoreUnavailable: the store or the read models cannot be reached.
    """

    async def record() -> StoredResponse:
        at = clock()
        added = await anyio.to_thread.run_sync(
            lambda: add_note(
                store,
                read_models,
                tenant=tenant,
                incident_id=incident_id,
                author=author,
                text=text,
                at=at,
            )
        )
        kept = _Recorded(incident_id=added.incident_id, author=added.author, text=added.text, at=at)
        return StoredResponse(status=201, body=msgspec.json.encode(kept))

    if idempotency_key is None:
        stored = await record()
    else:
        stored = await once_per_key(
            idempotency,
            scope=command_scope(tenant=tenant, user_id=user_id),
            key=idempotency_key,
            request_fingerprint=fingerprint("note", incident_id, text),
            now_ms=clock,
            work=record,
        )
    kept = msgspec.json.decode(stored.body, type=_Recorded)
    return NoteRecorded(
        incident_id=kept.incident_id, author=kept.author, text=kept.text, at=kept.at
    )


def incident_group(read_models: ReadModels, *, tenant: str, incident_id: str) -> str | None:
    """The group key of one of the tenant's incidents (None: no such incident).

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    found = view.by_id(read_models, tenant=tenant, incident_id=incident_id)
    return found.group_key if found is not None else None
