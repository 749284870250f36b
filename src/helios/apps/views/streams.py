"""What followers need beyond one log entry: whose stream it is, and the alert's state.

Alert and incident events do not repeat the tenant (the stream id encodes it, one way). The
directory learns it from the log itself — an alert's first event carries its signal, and an
alert's trigger names its group — and keeps it in ``stream_directory`` so a restarted follower
does not need to re-read history.

``stream_directory`` — which tenant and key a stream id stands for (alert and incident-group
streams), so followers can name the tenant of events that do not carry it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence

import attrs

from helios.domain import alert, incident
from helios.domain.scoring import Factor
from helios.ports.event_store import EventStore, LogEntry
from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS stream_directory (
    stream_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    key TEXT NOT NULL
)""",
)


def name_alert_streams(cursor: Cursor) -> None:
    """Name the stream of every alert row (a migration, run once, in the transaction that
    records it): the projector names each stream as it first meets it, and the query API
    finds an alert by its stream id here, so a row projected before either must be named too.
    Names already there are kept."""
    cursor.execute(
        "INSERT INTO stream_directory (stream_id, kind, tenant, key) "
        "SELECT stream_id, 'alert', tenant, dedup_key FROM alerts WHERE true "
        "ON CONFLICT (stream_id) DO NOTHING"
    )


@attrs.frozen
class StreamName:
    kind: str
    """``alert`` or ``group``."""
    tenant: str
    key: str
    """The dedup key of an alert, the group key of an incident group."""


# The events that name a stream: an alert's first signal, and a trigger naming its group.
_SIGNALS = (alert.SignalAccepted, alert.SignalIgnored)
_TRIGGERS = (alert.AlertTriggered, alert.AlertReopened)

STREAMS_KEPT = 10_000
"""Stream names a directory keeps in memory (the most recently used); the others are read
back from ``stream_directory`` (one indexed row) when they come up again."""


class StreamDirectory:
    """Stream id → (kind, tenant, key), learned from the log and remembered in the database.

    Keeps at most ``capacity`` names in memory (an LRU), plus those learned and not saved yet:
    a directory's memory does not grow with the number of alerts ever seen. Names are kept by
    the stream id's integer: its hash and equality run in C, a ``UUID``'s are Python calls,
    and a page looks up a few names per event.
    """

    def __init__(self, db: ReadModels, store: EventStore, *, capacity: int = STREAMS_KEPT) -> None:
        self._db = db
        self._store = store
        self._known: OrderedDict[int, StreamName] = OrderedDict()
        self._unsaved: dict[int, tuple[uuid.UUID, StreamName]] = {}
        self._capacity = max(1, capacity)

    def learn(self, entries: Sequence[LogEntry]) -> None:
        """Note the streams a page names (call before looking any of them up)."""
        known = self._known
        for entry in entries:
            event = entry.event
            if isinstance(event, _SIGNALS):
                if entry.stream_id.int not in known:
                    signal = event.signal
                    self._note(
                        entry.stream_id, StreamName("alert", signal.tenant, signal.dedup_key)
                    )
            elif isinstance(event, _TRIGGERS):
                owner = self.name(entry.stream_id)
                group = event.group_key
                if owner is not None and group:
                    stream = incident.group_stream_id(owner.tenant, group)
                    if stream.int not in known:
                        self._note(stream, StreamName("group", owner.tenant, group))

    def name(self, stream: uuid.UUID) -> StreamName | None:
        """Who the stream belongs to, or None if the log never said.

        Raises:
            StoreUnavailable: the read-model database or the store cannot be reached.
        """
        held = stream.int
        found = self._known.get(held)
        if found is not None:
            self._known.move_to_end(held)
            return found
        unsaved = self._unsaved.get(held)
        if unsaved is not None:
            self._keep(held, unsaved[1])
            return unsaved[1]
        rows = self._db.query(
            "SELECT kind, tenant, key FROM stream_directory WHERE stream_id = ?", (str(stream),)
        )
        if rows:
            kind, tenant, key = rows[0]
            found = StreamName(kind=kind, tenant=tenant, key=key)
        else:
            # An alert stream always starts with an accepted (or ignored) signal: ask the store.
            first = self._store.read_stream(stream)[:1]
            if first and isinstance(first[0].event, alert.SignalAccepted | alert.SignalIgnored):
                signal = first[0].event.signal
                found = StreamName("alert", signal.tenant, signal.dedup_key)
        if found is not None:
            self._keep(held, found)
        return found

    def save(self, cursor: Cursor) -> None:
        """Write what was learned and not committed yet (inside the caller's transaction; call
        ``saved`` once it committed)."""
        if not self._unsaved:
            return
        cursor.executemany(
            "INSERT INTO stream_directory (stream_id, kind, tenant, key) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (stream_id) DO NOTHING",
            [(str(s), n.kind, n.tenant, n.key) for s, n in self._unsaved.values()],
        )

    def saved(self) -> None:
        """The transaction of the last ``save`` committed. Until then the names stay to be
        written again: one rolled back and then evicted from memory would be lost (an
        incident group's stream does not say whose it is)."""
        self._unsaved.clear()

    def _note(self, stream: uuid.UUID, name: StreamName) -> None:
        key = stream.int
        if key not in self._known:
            self._keep(key, name)
            self._unsaved[key] = (stream, name)

    def _keep(self, key: int, name: StreamName) -> None:
        self._known[key] = name
        self._known.move_to_end(key)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)


@attrs.define
class FoldedAlert:
    state: alert.AlertState
    version: int
    factors: tuple[Factor, ...] = ()


class AlertStates:
    """Alert states as of a log entry: folded incrementally, loaded from the store on a miss
    (kept by the stream id's integer, as ``StreamDirectory`` keeps names)."""

    def __init__(self, store: EventStore, *, capacity: int = STREAMS_KEPT) -> None:
        self._store = store
        self._items: OrderedDict[int, FoldedAlert] = OrderedDict()
        self._capacity = max(1, capacity)

    def apply(self, entry: LogEntry, name: StreamName) -> FoldedAlert:
        """The alert's state after ``entry`` (which must be the stream's next event).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        key = entry.stream_id.int
        items = self._items
        folded = items.get(key)
        if folded is not None and folded.version == entry.version - 1:
            items.move_to_end(key)
        else:
            if entry.version == 1:
                # A stream's first event: nothing before it to read (a burst of new alerts
                # would otherwise cost one store read each).
                folded = FoldedAlert(state=alert.initial_state(name.tenant, name.key), version=0)
            else:
                folded = self._load(entry.stream_id, name, before=entry.version)
            items[key] = folded
            items.move_to_end(key)
            while len(items) > self._capacity:
                items.popitem(last=False)
        event = entry.event
        folded.state = alert.evolve(folded.state, event)
        folded.version = entry.version
        if alert.scores(event):
            folded.factors = event.factors
        return folded

    def latest(self, stream: uuid.UUID, tenant: str, dedup_key: str) -> alert.AlertState:
        """The alert's state after every event the store has of it (not kept).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self._load(stream, StreamName("alert", tenant, dedup_key), before=2**62).state

    def forget(self) -> None:
        self._items.clear()

    def _load(self, stream: uuid.UUID, name: StreamName, *, before: int) -> FoldedAlert:
        folded = FoldedAlert(state=alert.initial_state(name.tenant, name.key), version=0)
        for item in self._store.read_stream(stream):
            if item.version >= before:
                break
            folded.state = alert.evolve(folded.state, item.event)
            folded.version = item.version
            if alert.scores(item.event):
                folded.factors = item.event.factors
        return folded
