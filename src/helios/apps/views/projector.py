"""The projector: folds log pages into the read models, one transaction per page.

Each page's rows and the projector's position commit together, so a crash replays at most the
page in flight and the tables never count an event twice. Rows are computed from the domain's
own ``evolve`` (alerts) and from incident events, so a rebuild from position 0 gives exactly
the same tables.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import orjson

from helios.apps.views import (
    activity,
    alert_deadlines,
    alerts,
    changes,
    incidents,
    integration_stats,
)
from helios.apps.views.positions import committed_position, forget_position, move_position
from helios.apps.views.schema import REBUILT_TABLES
from helios.apps.views.streams import STREAMS_KEPT, AlertStates, FoldedAlert, StreamDirectory
from helios.domain import alert, incident, ruleset_stream
from helios.domain.changes import Change
from helios.domain.deadlines import Pending, pending
from helios.domain.intake import (
    ChangeRecorded,
    ControlReceived,
    EnvelopeNormalized,
    EnvelopeReceived,
    EnvelopeRejected,
    TickReceived,
)
from helios.domain.ruleset import Ruleset
from helios.domain.scoring import Factor
from helios.domain.values import Envelope, Link
from helios.ports.event_store import EventStore, LogEntry
from helios.ports.read_models import Cursor, ReadModels

FOLLOWER = "projector"
INLINE_PAGE = 5_000
"""Most entries of a batch projected inline in one transaction: a batch of 5,000 new alerts
(30,000 entries) in one took 25 MB more at its peak (tracemalloc), in pages of 5,000
entries 11 MB (the states cache it fills included), for five more commits (a commit's cost
grows with what it writes more than with their number)."""
CATCH_UP = 500
"""Most entries appended by others that a batch's inline projection reads from the log and
projects first (``Projector.appended``); further behind, it leaves the batch to the follower."""

# Alert decisions worth a line in the activity feed (signals and bookkeeping are not).
_ACTIVITY: dict[type, str] = {
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
_SAID = {kind: kind.replace("_", " ") for kind in [*_ACTIVITY.values(), "priority_changed"]}
"""Each kind of alert line as its text says it."""
_TIMELINE: dict[type, str] = {
    incident.IncidentOpened: "opened",
    incident.IncidentAlertJoined: "alert_joined",
    incident.IncidentAlertChanged: "alert_changed",
    incident.IncidentPriorityChanged: "priority_changed",
    incident.IncidentNotified: "notified",
    incident.IncidentNoteAdded: "note_added",
    incident.IncidentResolved: "resolved",
}


def _names(*classes: type) -> frozenset[str]:
    return frozenset(cls.NAME for cls in classes)  # type: ignore[attr-defined]


_NORMALIZED: str = EnvelopeNormalized.NAME  # type: ignore[attr-defined]
_REJECTED: str = EnvelopeRejected.NAME  # type: ignore[attr-defined]
# What an envelope came to: only the kind of outcome is counted (by name: what normalization
# made of an envelope is the log's largest entry, and is left undecoded).
_OUTCOMES = _names(EnvelopeNormalized, EnvelopeRejected, ChangeRecorded, ControlReceived)

# Signals an alert never triggered ignores (no row), and signals counted as duplicates.
_IGNORED = (alert.SignalIgnored, alert.SignalDeduplicated)
_DUPLICATES = (alert.SignalDeduplicated, alert.SignalRepeated)

# An alert's part in an incident (named here: inside _PageRows, ``incident`` is a method).
_Membership = incident.IncidentAlertJoined | incident.IncidentAlertChanged


class Projector:
    """Applies log pages to the read models (synchronous: run it in a thread)."""

    name = FOLLOWER

    @staticmethod
    def left_encoded(name: str) -> bool:
        """What normalization made of an envelope projects nothing but its kind (the name
        says it): the log's largest entries are not decoded."""
        return name == _NORMALIZED

    def __init__(
        self,
        store: EventStore,
        db: ReadModels,
        *,
        kept: int = STREAMS_KEPT,
        catch_up: int = CATCH_UP,
        inline_page: int = INLINE_PAGE,
    ) -> None:
        """``kept``: how many alerts' states, stream names and written labels stay in memory
        (the most recently used; the others are read back when they come up again);
        ``catch_up`` and ``inline_page``: see ``appended``."""
        self._store = store
        self._catch_up = max(1, catch_up)
        self._inline_page = max(1, inline_page)
        self._db = db
        self._directory = StreamDirectory(db, store, capacity=kept)
        self._states = AlertStates(store, capacity=kept)
        self._labels = _LabelsWritten(capacity=kept)
        self._rules = _Rules(store, db)
        # Pages from the log (``apply``) and batches just appended (``appended``) come from
        # two threads: one at a time, each knowing where the other left the position.
        self._lock = threading.Lock()
        self._position: int | None = None
        """Where this projector's last commit left the position (None: read it back)."""

    def reached(self) -> int | None:
        """Where this projector's last commit left the position (None: not known here). A
        follower reading pages for it starts after that: what was appended in this process
        may have been projected straight from the batch (``appended``)."""
        return self._position

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Project one page and move the position from ``after`` to the page's last entry
        (the entries this projector already projected, at or before ``reached()``, are left
        out).

        Raises:
            StoreUnavailable: the store or the read-model database cannot be reached.
            ConcurrencyConflict: another projector moved the position meanwhile.
        """
        with self._lock:
            known = self._position
            if known is not None and known > after:
                page = [entry for entry in page if entry.position > known]
                after = known
            if page:
                self._apply(page, after=after)

    def appended(self, entries: Sequence[LogEntry], *, before: int) -> bool:
        """Project a batch the store just committed, from its events as decided (no log
        read, no decoding): the rows ``apply`` would write for them, with the position, in
        a transaction per ``inline_page`` entries. The position must be at ``before`` (the
        log's end before the batch), or fewer than ``catch_up`` entries behind it (what
        another process appended meanwhile: read from the log and projected first, with
        the batch); otherwise the batch is left to the follower, which reads it from the
        log. Returns whether it was projected.

        Raises:
            StoreUnavailable: the store or the read-model database cannot be reached.
            ConcurrencyConflict: another projector moved the position meanwhile.
        """
        if not entries:
            return False
        with self._lock:
            position = self._position
            if position is None:
                position = self._position = committed_position(self._db, FOLLOWER)
            if position > before:
                return False  # the follower was quicker
            missed: Sequence[LogEntry] = ()
            if position < before:
                limit = self._catch_up
                missed = self._store.read_log(position, limit, encoded=self.left_encoded)
                if len(missed) == limit and missed[-1].position <= before:
                    return False  # further behind than worth reading here
                missed = [entry for entry in missed if entry.position <= before]
            batch = [*missed, *entries]
            for start in range(0, len(batch), self._inline_page):
                page = batch[start : start + self._inline_page]
                self._apply(page, after=position)
                position = page[-1].position
            return True

    def _apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        self._position = None  # unknown until the commit succeeds
        self._directory.learn(page)
        page_rows = _PageRows()
        for entry in page:
            self._entry(entry, page_rows)
            self._delivery(entry, page_rows)
        page_rows.finish()
        page_rows.writes.append(page_rows.deliveries.write)
        deadlines = self._deadlines(page_rows)
        try:
            with self._db.transaction() as cursor:
                page_rows.write(cursor, labels_unchanged=self._labels.unchanged)
                deadlines.write(cursor)
                self._directory.save(cursor)
                move_position(cursor, FOLLOWER, after=after, to=page[-1].position)
        except BaseException:
            # Rolled back, or another projector wrote meanwhile: written labels are unknown.
            self._labels.forget()
            raise
        self._directory.saved()
        self._labels.written(page_rows.alerts)
        self._position = page[-1].position

    def reset(self) -> None:
        """Forget every projected row and the position (the next run rebuilds from 0).

        Raises:
            StoreUnavailable: the read-model database cannot be reached.
        """
        with self._lock, self._db.transaction() as cursor:
            self._position = None
            for table in REBUILT_TABLES:
                cursor.execute(f"DELETE FROM {table}")
            forget_position(cursor, FOLLOWER)
        self._states.forget()
        self._labels.forget()
        self._rules.forget()

    def _entry(self, entry: LogEntry, rows: _PageRows) -> None:
        if entry.name.startswith("helios.alert."):
            owner = self._directory.name(entry.stream_id)
            if owner is None:
                return
            folded = self._states.apply(entry, owner)
            self._rules.know(owner.tenant)
            rows.alert(entry, folded)
            event = entry.event
            kind = _ACTIVITY.get(type(event))
            if kind is None and isinstance(event, alert.AlertScored) and event.priority_changed:
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
        elif isinstance(entry.event, TickReceived):
            tenant = entry.event.tenant
            rows.ticked.extend((tenant, key) for key in entry.event.dedup_keys)
        elif isinstance(entry.event, ruleset_stream.RulesetPublished):
            changed = self._rules.published(entry.stream_id, entry.event.ruleset)
            if changed is not None:
                rows.rules_changed.add(changed)

    def _delivery(self, entry: LogEntry, rows: _PageRows) -> None:
        """Count an envelope's outcome for its integration (``integration_stats``)."""
        event = entry.event
        if isinstance(event, EnvelopeReceived):
            rows.received[entry.stream_id.int] = event.envelope
            return
        if entry.name not in _OUTCOMES:
            return
        envelope = rows.received.pop(entry.stream_id.int, None)
        if envelope is None:  # received at the end of the previous page: read it back
            first = self._store.read_stream(entry.stream_id)[:1]
            envelope = first[0].event.envelope if first else None
        if envelope is not None:
            rows.deliveries.count(
                envelope.tenant,
                envelope.integration,
                envelope.received_at,
                accepted=entry.name != _REJECTED,
            )

    def _deadlines(self, rows: _PageRows) -> _PageDeadlines:
        """The deadline rows a page writes, each under its tenant's ruleset as of the page's
        end: those of the alerts it wrote, those of ticked alerts whose row waited for their
        state (made before the table was), and the tenants whose rules changed."""
        deadlines = _PageDeadlines(rules_changed={
            tenant: self._rules.of(tenant) for tenant in rows.rules_changed
        })  # fmt: skip
        for tenant, key in alert_deadlines.unknown(self._db, rows.ticked):
            state = self._states.latest(alert.alert_stream_id(tenant, key), tenant, key)
            episode = state.episode
            rows.deadlines[alert.alert_stream_id(tenant, key).int] = (
                tenant, key, pending(state) if episode and episode.is_open else None,
            )  # fmt: skip
        for tenant, key, what in rows.deadlines.values():
            if what is None:
                deadlines.closed.append((tenant, key))
            else:
                deadlines.open.append(
                    alert_deadlines.row_for(tenant, key, what, self._rules.of(tenant))
                )
        return deadlines


@attrs.define
class _AlertSeen:
    """An alert's latest state in a page, and what its row gathers over the page's events."""

    stream: uuid.UUID
    position: int
    state: alert.AlertState
    factors: tuple[Factor, ...]
    duplicates: int
    last_change_at: int | None
    first_seen_at: int


class _PageRows:
    """What one page changes, collapsed so each alert row is written once per page."""

    def __init__(self) -> None:
        self.alerts: list[alerts.AlertRow] = []
        self.labels: list[dict[str, str]] = []
        """Each alert row's labels, as a mapping (its JSON is written from it)."""
        self.writes: list[Callable[[Cursor], None]] = []
        self.deadlines: dict[int, tuple[str, str, Pending | None]] = {}
        """What a tick may act on, per alert written (None: it is closed, no row)."""
        self.ticked: list[tuple[str, str]] = []
        self.rules_changed: set[str] = set()
        self.received: dict[int, Envelope] = {}
        self.deliveries = integration_stats.PageCounts()
        # The page's rows of each table, written with one statement each (``write``).
        self.lines: list[activity.Values] = []
        self.incident_rows = incidents.PageWrites()
        self.joined: list[tuple[str, str, str]] = []
        """(tenant, dedup key, incident) of each alert that joined one (its stream's id, as
        text, is made only for the few whose row the page does not write)."""
        self._seen: dict[int, _AlertSeen] = {}
        # Streams are keyed by their id's integer here (as in ``StreamDirectory``): its hash
        # and equality run in C, a ``UUID``'s are Python calls.

    def alert(self, entry: LogEntry, folded: FoldedAlert) -> None:
        """Note an alert event; its row is made once, by ``finish``, from the alert's last
        state in the page (an alert has several events per page: a row for each was most
        of the projector's time)."""
        state = folded.state
        episode = state.episode
        event = entry.event
        if episode is None and isinstance(event, _IGNORED):
            # Only acknowledge/resolve signals for an alert never triggered, ignored: no
            # alert to show (until a trigger arrives). Logs of engine version 1 accepted them
            # instead, and keep the row with status "none" they always had.
            return
        # An exact duplicate and a copy of a timestamp-less signal alike (HA pair, resend).
        duplicate = isinstance(event, _DUPLICATES)
        changed = getattr(event, "at", None)
        if duplicate or isinstance(event, alert.SignalAccepted):
            changed = None
        first = episode.started_at if episode is not None else 0
        stream = entry.stream_id
        seen = self._seen.get(stream.int)
        if seen is None:
            self._seen[stream.int] = _AlertSeen(
                stream=stream, position=entry.position, state=state, factors=folded.factors,
                duplicates=int(duplicate), last_change_at=changed, first_seen_at=first,
            )  # fmt: skip
            return
        seen.position, seen.state, seen.factors = entry.position, state, folded.factors
        seen.duplicates += duplicate
        if changed is not None:
            seen.last_change_at = changed
        # The earliest episode start (0: none yet) stays, as the upsert keeps it across pages.
        if seen.first_seen_at:
            seen.first_seen_at = min(seen.first_seen_at, first or seen.first_seen_at)
        else:
            seen.first_seen_at = first

    def finish(self) -> None:
        """Make the row and the deadline of every alert the page changed (after its last
        entry, before ``write``); a row carries the incident its alert last joined in the
        page, if any."""
        incident_of = {(tenant, key): incident for tenant, key, incident in self.joined}
        for stream, seen in self._seen.items():
            state = seen.state
            episode = state.episode
            incident_id = incident_of.get((state.tenant, state.dedup_key)) if incident_of else None
            labels = dict(episode.labels) if episode is not None else {}
            self.alerts.append(_alert_row(seen, str(seen.stream), incident_id, labels))
            self.labels.append(labels)
            self.deadlines[stream] = (
                state.tenant, state.dedup_key,
                pending(state) if episode is not None and episode.is_open else None,
            )  # fmt: skip
        self._seen.clear()

    def activity(self, entry: LogEntry, tenant: str, kind: str, subject: str, text: str) -> None:
        self.lines.append(
            (entry.position, tenant, getattr(entry.event, "at", 0), kind, subject, text)
        )

    def change(self, entry: LogEntry, ingest_id: str, change: Change) -> None:
        # The feed line first, and only for a change not seen before: the same change
        # delivered again (after the API's dedup window) is one row and one line.
        line = activity.ActivityRow(
            position=entry.position,
            tenant=change.tenant,
            at=change.occurred_at,
            kind="change",
            subject=change.service or change.change_id,
            text=f"{change.service or change.origin or 'change'}: {change.summary} — change",
        )
        self.writes.append(
            functools.partial(
                activity.add_unless_change_known, row=line, change_id=change.change_id
            )
        )
        row = changes.ChangeRow(
            tenant=change.tenant,
            change_id=change.change_id,
            position=entry.position,
            ingest_id=ingest_id,
            integration=change.integration,
            source=change.source,
            service=change.service,
            origin=change.origin,
            summary=change.summary,
            occurred_at=change.occurred_at,
            received_at=change.received_at,
            links=_links_json(change.links),
            details=change.details,
        )
        self.writes.append(functools.partial(changes.add, row=row))

    def incident(self, entry: LogEntry, tenant: str, group_key: str) -> None:
        event = entry.event
        at = getattr(event, "at", 0)
        kind = _TIMELINE.get(type(event))
        if kind is None:
            return
        detail = self._incident_change(entry, tenant, group_key, at)
        self.incident_rows.timeline((
            event.incident_id, entry.position, at, kind, getattr(event, "dedup_key", None),
            orjson.dumps(detail).decode(),
        ))  # fmt: skip

    def _incident_change(
        self, entry: LogEntry, tenant: str, group_key: str, at: int
    ) -> dict[str, Any]:
        """Queue what an incident event changes besides its timeline (the incident, its
        members, the alerts' incident, the activity feed); returns the timeline line's detail."""
        event = entry.event
        incident_id = event.incident_id
        rows = self.incident_rows
        match event:
            case incident.IncidentOpened(number=number):
                rows.open(
                    incident_id=incident_id, tenant=tenant, group_key=group_key, number=number,
                    at=at,
                )  # fmt: skip
                self.activity(
                    entry,
                    tenant,
                    "incident_opened",
                    incident_id,
                    f"incident #{number} opened for {group_key}",
                )
            case incident.IncidentAlertJoined() | incident.IncidentAlertChanged():
                return self._member(event, tenant, at)
            case incident.IncidentPriorityChanged(previous=previous, priority=priority):
                detail: dict[str, Any] = {
                    "previous": previous.value if previous else None,
                    "priority": priority.value if priority else None,
                }
                rows.priority(incident_id=incident_id, priority=detail["priority"], at=at)
                return detail
            case incident.IncidentNotified(notification_id=nid, reason=reason):
                return {"notification_id": nid, "reason": reason}
            case incident.IncidentNoteAdded(author=author, text=text):
                return {"author": author, "text": text}
            case incident.IncidentResolved():
                rows.resolve(incident_id=incident_id, at=at)
                self.activity(
                    entry,
                    tenant,
                    "incident_resolved",
                    incident_id,
                    f"incident for {group_key} resolved",
                )
        return {}

    def _member(self, event: _Membership, tenant: str, at: int) -> dict[str, Any]:
        """An alert joined an incident or changed in it: its member row and the incident its
        alert row points at; returns the timeline line's detail."""
        detail: dict[str, Any] = {
            "status": event.status.value,
            "priority": event.priority.value if event.priority else None,
        }
        if isinstance(event, incident.IncidentAlertChanged):
            detail["change"] = event.change
        elif event.notification_id:
            # Joined with its notification (engine version 5 on): one line says both.
            detail["notification_id"] = event.notification_id
            detail["reason"] = event.reason
        self.incident_rows.member(
            incident_id=event.incident_id, dedup_key=event.dedup_key,
            status=event.status.value, priority=detail["priority"], at=at,
        )  # fmt: skip
        self.joined.append((tenant, event.dedup_key, event.incident_id))
        return detail

    def write(self, cursor: Cursor, *, labels_unchanged: Callable[[alerts.AlertRow], bool]) -> None:
        # Alert rows first: incident statements of the same page may point them at incidents.
        # Each table's statements keep their log order; the reads across tables are a
        # change's line reading ``changes`` (both kept in order in ``writes``) and the
        # incidents' recount of their members (see ``incidents.PageWrites``).
        rows = self.alerts
        alerts.upsert(cursor, rows, labels_unchanged=labels_unchanged, labels=self.labels)
        if self.joined:
            written = {(row.tenant, row.dedup_key) for row in rows if row.incident_id is not None}
            alerts.set_incidents(cursor, [
                (tenant, key, str(alert.alert_stream_id(tenant, key)), incident)
                for tenant, key, incident in self.joined
                if (tenant, key) not in written
            ])  # fmt: skip
        self.incident_rows.write(cursor)
        activity.add(cursor, self.lines)
        for write in self.writes:
            write(cursor)


@attrs.define
class _PageDeadlines:
    """The ``alert_deadlines`` changes of one page."""

    rules_changed: dict[str, Ruleset]
    open: list[alert_deadlines.DeadlineRow] = attrs.field(factory=list)
    closed: list[tuple[str, str]] = attrs.field(factory=list)

    def write(self, cursor: Cursor) -> None:
        alert_deadlines.replace(cursor, self.open, self.closed)
        for tenant, ruleset in self.rules_changed.items():
            alert_deadlines.reschedule(cursor, tenant, ruleset)


class _Rules:
    """Each tenant's ruleset in force, read once from its stream and then followed in the
    log (a published version only ever replaces an older one, so a rebuild that starts with
    the latest keeps it)."""

    def __init__(self, store: EventStore, db: ReadModels) -> None:
        self._store = store
        self._db = db
        self._current: dict[str, Ruleset] = {}
        self._tenants: dict[uuid.UUID, str] = {}

    def know(self, tenant: str) -> None:
        """Note a tenant seen, so its rules stream is recognized when it changes."""
        if tenant not in self._current:
            self._tenants.setdefault(ruleset_stream.ruleset_stream_id(tenant), tenant)

    def of(self, tenant: str) -> Ruleset:
        """The tenant's ruleset in force.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        found = self._current.get(tenant)
        if found is None:
            state = ruleset_stream.initial_state(tenant)
            for item in self._store.read_stream(ruleset_stream.ruleset_stream_id(tenant)):
                state = ruleset_stream.evolve(state, item.event)
            found = self._current[tenant] = state.current
            self.know(tenant)
        return found

    def published(self, stream: uuid.UUID, ruleset: Ruleset) -> str | None:
        """Learn a ruleset published on ``stream``; returns its tenant (None: a tenant with
        no open alert, whose deadlines it cannot move).

        Raises:
            StoreUnavailable: the store or the read-model database cannot be reached.
        """
        tenant = self._tenants.get(stream)
        if tenant is None:
            for known in alert_deadlines.tenants(self._db):
                self.know(known)
            tenant = self._tenants.get(stream)
            if tenant is None:
                return None
        if ruleset.version > self.of(tenant).version:
            self._current[tenant] = ruleset
        return tenant

    def forget(self) -> None:
        self._current.clear()


class _LabelsWritten:
    """The labels (and time) this projector last committed for the alerts it saw recently, so
    that a row whose labels did not change does not rewrite its label rows."""

    def __init__(self, *, capacity: int = STREAMS_KEPT) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        self._capacity = capacity

    def unchanged(self, row: alerts.AlertRow) -> bool:
        return self._items.get((row.tenant, row.dedup_key)) == (row.labels, row.last_signal_at)

    def written(self, rows: Iterable[alerts.AlertRow]) -> None:
        for row in rows:
            key = (row.tenant, row.dedup_key)
            self._items[key] = (row.labels, row.last_signal_at)
            self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def forget(self) -> None:
        self._items.clear()


def _alert_row(
    seen: _AlertSeen, stream_id: str, incident_id: str | None, labels: dict[str, str]
) -> alerts.AlertRow:
    """The alert's row as its last state in the page shows it."""
    state = seen.state
    episode = state.episode
    if episode is None:
        # Only a late or resolve-first signal so far: nothing to show yet but the key.
        return alerts.AlertRow(
            tenant=state.tenant, dedup_key=state.dedup_key, stream_id=stream_id,
            status="none", priority=None, score=None, factors="[]", severity="info",
            summary="", service="", sources="[]", labels="{}", occurrences=0, episode=0,
            duplicates=seen.duplicates, flapping=0, silenced=0, group_key="",
            first_seen_at=seen.first_seen_at, last_signal_at=0,
            last_change_at=seen.last_change_at, position=seen.position,
            links="[]", details="{}", incident_id=incident_id,
        )  # fmt: skip
    trigger = state.latest_trigger
    return alerts.AlertRow(
        tenant=state.tenant,
        dedup_key=state.dedup_key,
        stream_id=stream_id,
        status=episode.status.value,
        priority=state.priority.value if state.priority else None,
        score=state.score,
        factors=_factors_json(seen.factors),
        severity=episode.severity.value,
        summary=episode.summary,
        service=episode.service,
        sources=orjson.dumps(episode.sources).decode(),
        labels=orjson.dumps(labels).decode(),
        occurrences=episode.occurrences,
        episode=episode.number,
        duplicates=seen.duplicates,
        flapping=int(state.flapping),
        silenced=int(bool(state.silenced_by)),
        group_key=state.group_key,
        first_seen_at=seen.first_seen_at,
        last_signal_at=episode.last_signal_at,
        last_change_at=seen.last_change_at,
        position=seen.position,
        links=_links_json(trigger.links) if trigger else "[]",
        details=trigger.details if trigger else "{}",
        incident_id=incident_id,
    )


def _factors_json(factors: tuple[Factor, ...]) -> str:
    return orjson.dumps([[f.name, f.input, f.effect] for f in factors]).decode()


def _links_json(links: tuple[Link, ...]) -> str:
    return orjson.dumps([{"href": link.href, "text": link.text} for link in links]).decode()


def _alert_line(kind: str, folded: FoldedAlert) -> str:
    state = folded.state
    episode = state.episode
    what = (
        f"{episode.service or state.dedup_key}: {episode.summary}" if episode else state.dedup_key
    )
    priority = f" [{state.priority.value}]" if state.priority else ""
    return f"{what} — {_SAID[kind]}{priority}"
