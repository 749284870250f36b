"""Incident use cases that people drive: a note on an incident's timeline.

An incident lives in its group's stream (``helios.domain.incident``); the read models say which
group an incident id belongs to, and the note is decided and appended there.
"""

from __future__ import annotations

from helios.apps.application.repository import execute
from helios.apps.views.database import ReadModels
from helios.domain import engine, incident
from helios.domain.values import Millis
from helios.ports.event_store import EventStore


class NoSuchIncident(LookupError):
    """The tenant has no incident with this id."""


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
    _, events = execute(
        store,
        engine.group_stream(tenant, group_key),
        initial=lambda: incident.initial_state(tenant, group_key),
        evolve=incident.evolve,
        decide=lambda state: incident.decide(command, state),
    )
    [added] = events
    assert isinstance(added, incident.IncidentNoteAdded)
    return added


def incident_group(read_models: ReadModels, *, tenant: str, incident_id: str) -> str | None:
    """The group key of one of the tenant's incidents (None: no such incident).

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows = read_models.query(
        "SELECT group_key FROM incidents WHERE incident_id = ? AND tenant = ?",
        (incident_id, tenant),
    )
    return str(rows[0][0]) if rows else None
