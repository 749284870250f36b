"""The projector: folds log pages into the read models, one transaction per page.

Each page's rows and the projector's position commit together, so a crash replays at most the
page in flight and the tables never count an event twice. Rows are computed from the domain's
own ``evolve`` (alerts) and from incident events, so a rebuild from position 0 gives exactly
the same tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from helios.apps.views.database import Cursor, ReadModels
from helios.apps.views.schema import REBUILT_TABLES
from helios.apps.views.streams import AlertStates, FoldedAlert, StreamDirectory
from helios.domain import alert, incident
from helios.domain.changes import Change
from helios.domain.intake import ChangeRecorded
from helios.domain.values import Link
from helios.ports.event_store import ConcurrencyConflict, EventStore, LogEntry

FOLLOWER = "projector"

# Alert decisions worth a line in the activity feed (signals and bookkeeping are not).
_ACTIVITY = {
    alert.AlertTriggered: "triggered",
    alert.AlertReopened: "reopened",
    alert.AlertAcknowledged: "acknowledged",
    alert.AlertResolved: "resolved",
    alert.FlappingStarted: "flapping_started",
    alert.FlappingCleared: "flapping_cleared",
    alert.AlertSilenced: "silenced",
    alert.NotificationRequested: "notification_requested",
    alert.EscalationDue: "escalation_due",
}
_TIMELINE = {
    incident.IncidentOpened: "opened",
    incident.IncidentAlertJoined: "alert_joined",
    incident.IncidentAlertChanged: "alert_changed",
    incident.IncidentPriorityChanged: "priority_changed",
    incident.IncidentNotified: "notified",
    incident.IncidentNoteAdded: "note_added",
    incident.IncidentResolved: "resolved",
}

_UPSERT_ALERT = """
INSERT INTO alerts (tenant, dedup_key, stream_id, status, priority, score, factors, severity,
    summary, service, sources, labels, occurrences, episode, duplicates, flapping, silenced,
    group_key, first_seen_at, last_signal_at, last_change_at, position, links, details)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, dedup_key) DO UPDATE SET
    status = excluded.status, priority = excluded.priority, score = excluded.score,
    factors = excluded.factors, severity = excluded.severity, summary = excluded.summary,
    service = excluded.service, sources = excluded.sources, labels = excluded.labels,
    occurrences = excluded.occurrences, episode = excluded.episode,
    duplicates = alerts.duplicates + excluded.duplicates, flapping = excluded.flapping,
    silenced = excluded.silenced, group_key = excluded.group_key,
    last_signal_at = excluded.last_signal_at,
    last_change_at = COALESCE(excluded.last_change_at, alerts.last_change_at),
    position = excluded.position, links = excluded.links, details = excluded.details
"""


class Projector:
    """Applies log pages to the read models (synchronous: run it in a thread)."""

    name = FOLLOWER

    def __init__(self, store: EventStore, db: ReadModels) -> None:
        self._store = store
        self._db = db
        self._directory = StreamDirectory(db, store)
        self._states = AlertStates(store)

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Project one page and move the position from ``after`` to the page's last entry.

        Raises:
            StoreUnavailable: the store or the read-model database cannot be reached.
            ConcurrencyConflict: another projector moved the position meanwhile.
        """
        self._directory.learn(page)
        page_rows = _PageRows()
        for entry in page:
            self._entry(entry, page_rows)
        with self._db.transaction() as cursor:
            page_rows.write(cursor)
            self._directory.save(cursor)
            move_position(cursor, FOLLOWER, after=after, to=page[-1].position)

    def reset(self) -> None:
        """Forget every projected row and the position (the next run rebuilds from 0).

        Raises:
            StoreUnavailable: the read-model database cannot be reached.
        """
        with self._db.transaction() as cursor:
            for table in REBUILT_TABLES:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM follower_positions WHERE follower = ?", (FOLLOWER,))
        self._states.forget()

    def _entry(self, entry: LogEntry, rows: _PageRows) -> None:
        if entry.name.startswith("helios.alert."):
            owner = self._directory.name(entry.stream_id)
            if owner is None:
                return
            folded = self._states.apply(entry, owner)
            rows.alert(entry, folded)
            kind = _ACTIVITY.get(type(entry.event))
            if isinstance(entry.event, alert.AlertScored) and entry.event.priority_changed:
                kind = "priority_changed"
            if kind is not None:
                rows.activity(entry, owner.tenant, kind, owner.key, _alert_line(kind, folded))
        elif entry.name.startswith("helios.incident."):
            owner = self._directory.name(entry.stream_id)
            if owner is not None:
                rows.incident(entry, owner.tenant, owner.key)
        elif isinstance(entry.event, ChangeRecorded):
            for change in entry.event.changes:
                rows.change(entry, entry.event.ingest_id, change)


class _PageRows:
    """What one page changes, collapsed so each alert row is written once per page."""

    def __init__(self) -> None:
        self.alerts: dict[uuid.UUID, list[Any]] = {}
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def alert(self, entry: LogEntry, folded: FoldedAlert) -> None:
        state = folded.state
        episode = state.episode
        if episode is None and isinstance(
            entry.event, alert.SignalIgnored | alert.SignalDeduplicated
        ):
            # Only acknowledge/resolve signals for an alert never triggered, ignored: no
            # alert to show (until a trigger arrives). Logs of engine version 1 accepted them
            # instead, and keep the row with status "none" they always had.
            return
        previous = self.alerts.get(entry.stream_id)
        # An exact duplicate and a copy of a timestamp-less signal alike (HA pair, resend).
        duplicates = (previous[14] if previous else 0) + isinstance(
            entry.event, alert.SignalDeduplicated | alert.SignalRepeated
        )
        changed = getattr(entry.event, "at", None)
        if isinstance(
            entry.event, alert.SignalAccepted | alert.SignalDeduplicated | alert.SignalRepeated
        ):
            changed = None
        last_change = changed if changed is not None else (previous[20] if previous else None)
        if episode is None:
            # Only a late or resolve-first signal so far: nothing to show yet but the key.
            row = [
                state.tenant,
                state.dedup_key,
                str(entry.stream_id),
                "none",
                None,
                None,
                "[]",
                "info",
                "",
                "",
                "[]",
                "{}",
                0,
                0,
                duplicates,
                0,
                0,
                "",
                0,
                0,
                last_change,
                entry.position,
                "[]",
                "{}",
            ]
        else:
            trigger = state.latest_trigger
            row = [
                state.tenant,
                state.dedup_key,
                str(entry.stream_id),
                episode.status.value,
                state.priority.value if state.priority else None,
                state.score,
                orjson.dumps([[f.name, f.input, f.effect] for f in folded.factors]).decode(),
                episode.severity.value,
                episode.summary,
                episode.service,
                orjson.dumps(list(episode.sources)).decode(),
                orjson.dumps(dict(episode.labels)).decode(),
                episode.occurrences,
                episode.number,
                duplicates,
                int(state.flapping),
                int(bool(state.silenced_by)),
                state.group_key,
                episode.started_at,
                episode.last_signal_at,
                last_change,
                entry.position,
                _links_json(trigger.links) if trigger else "[]",
                trigger.details if trigger else "{}",
            ]
        if previous is not None and previous[18]:
            row[18] = min(previous[18], row[18] or previous[18])
        self.alerts[entry.stream_id] = row

    def activity(self, entry: LogEntry, tenant: str, kind: str, subject: str, text: str) -> None:
        self.statements.append(
            (
                "INSERT INTO activity (position, tenant, at, kind, subject, text) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
                (entry.position, tenant, getattr(entry.event, "at", 0), kind, subject, text),
            )
        )

    def change(self, entry: LogEntry, ingest_id: str, change: Change) -> None:
        # The feed line first, and only for a change not seen before: the same change
        # delivered again (after the API's dedup window) is one row and one line.
        self._add(
            "INSERT INTO activity (position, tenant, at, kind, subject, text) "
            "SELECT ?, ?, ?, 'change', ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM changes WHERE tenant = ? AND change_id = ?) "
            "ON CONFLICT (position) DO NOTHING",
            entry.position,
            change.tenant,
            change.occurred_at,
            change.service or change.change_id,
            f"{change.service or change.origin or 'change'}: {change.summary} — change",
            change.tenant,
            change.change_id,
        )
        self._add(
            "INSERT INTO changes (tenant, change_id, position, ingest_id, integration, source, "
            "service, origin, summary, occurred_at, received_at, links, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant, change_id) DO NOTHING",
            change.tenant,
            change.change_id,
            entry.position,
            ingest_id,
            change.integration,
            change.source,
            change.service,
            change.origin,
            change.summary,
            change.occurred_at,
            change.received_at,
            _links_json(change.links),
            change.details,
        )

    def incident(self, entry: LogEntry, tenant: str, group_key: str) -> None:
        event = entry.event
        at = getattr(event, "at", 0)
        kind = _TIMELINE.get(type(event))
        if kind is None:
            return
        incident_id = event.incident_id
        detail: dict[str, Any] = {}
        match event:
            case incident.IncidentOpened(number=number):
                self._add(
                    "INSERT INTO incidents (incident_id, tenant, group_key, number, status, "
                    "priority, alerts, opened_at, last_change_at) "
                    "VALUES (?, ?, ?, ?, 'open', NULL, 0, ?, ?) "
                    "ON CONFLICT (incident_id) DO NOTHING",
                    incident_id,
                    tenant,
                    group_key,
                    number,
                    at,
                    at,
                )
                self.activity(
                    entry,
                    tenant,
                    "incident_opened",
                    incident_id,
                    f"incident #{number} opened for {group_key}",
                )
            case incident.IncidentAlertJoined(dedup_key=key, status=status, priority=priority) | (
                incident.IncidentAlertChanged(dedup_key=key, status=status, priority=priority)
            ):
                detail = {"status": status.value, "priority": priority.value if priority else None}
                if isinstance(event, incident.IncidentAlertChanged):
                    detail["change"] = event.change
                self._add(
                    "INSERT INTO incident_alerts (incident_id, dedup_key, status, priority) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, dedup_key) DO UPDATE SET "
                    "status = excluded.status, priority = excluded.priority",
                    incident_id,
                    key,
                    status.value,
                    detail["priority"],
                )
                self._add(
                    "UPDATE incidents SET last_change_at = ?, alerts = (SELECT COUNT(*) FROM "
                    "incident_alerts WHERE incident_alerts.incident_id = ?) WHERE incident_id = ?",
                    at,
                    incident_id,
                    incident_id,
                )
                self._add(
                    "UPDATE alerts SET incident_id = ? WHERE tenant = ? AND dedup_key = ?",
                    incident_id,
                    tenant,
                    key,
                )
            case incident.IncidentPriorityChanged(previous=previous, priority=priority):
                detail = {
                    "previous": previous.value if previous else None,
                    "priority": priority.value if priority else None,
                }
                self._add(
                    "UPDATE incidents SET priority = ?, last_change_at = ? WHERE incident_id = ?",
                    detail["priority"],
                    at,
                    incident_id,
                )
            case incident.IncidentNotified(notification_id=nid, reason=reason):
                detail = {"notification_id": nid, "reason": reason}
            case incident.IncidentNoteAdded(author=author, text=text):
                detail = {"author": author, "text": text}
            case incident.IncidentResolved():
                self._add(
                    "UPDATE incidents SET status = 'resolved', resolved_at = ?, "
                    "last_change_at = ? WHERE incident_id = ?",
                    at,
                    at,
                    incident_id,
                )
                self.activity(
                    entry,
                    tenant,
                    "incident_resolved",
                    incident_id,
                    f"incident for {group_key} resolved",
                )
        self._add(
            "INSERT INTO incident_timeline (incident_id, position, at, kind, dedup_key, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, position) DO NOTHING",
            incident_id,
            entry.position,
            at,
            kind,
            getattr(event, "dedup_key", None),
            orjson.dumps(detail).decode(),
        )

    def _add(self, sql: str, *params: Any) -> None:
        self.statements.append((sql, params))

    def write(self, cursor: Cursor) -> None:
        # Alert rows first: incident statements of the same page may point them at incidents.
        if self.alerts:
            cursor.executemany(_UPSERT_ALERT, list(self.alerts.values()))
        for sql, params in self.statements:
            cursor.execute(sql, params)


def move_position(cursor: Cursor, follower: str, *, after: int, to: int) -> None:
    """Record ``to`` as the follower's position, if it still is at ``after``.

    Raises:
        ConcurrencyConflict: another instance of the follower moved it meanwhile.
    """
    if after == 0:
        cursor.execute(
            "INSERT INTO follower_positions (follower, position) VALUES (?, ?) "
            "ON CONFLICT (follower) DO UPDATE SET position = excluded.position "
            "WHERE follower_positions.position = 0",
            (follower, to),
        )
    else:
        cursor.execute(
            "UPDATE follower_positions SET position = ? WHERE follower = ? AND position = ?",
            (to, follower, after),
        )
    if cursor.rowcount != 1:
        raise ConcurrencyConflict(follower=follower)


def _links_json(links: tuple[Link, ...]) -> str:
    return orjson.dumps([{"href": link.href, "text": link.text} for link in links]).decode()


def _alert_line(kind: str, folded: FoldedAlert) -> str:
    state = folded.state
    episode = state.episode
    what = (
        f"{episode.service or state.dedup_key}: {episode.summary}" if episode else state.dedup_key
    )
    priority = f" [{state.priority.value}]" if state.priority else ""
    return f"{what} — {kind.replace('_', ' ')}{priority}"
