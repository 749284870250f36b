"""``alerts``: one row per alert (tenant, dedup key), its current episode, as the list and the
detail of ``/v1/alerts`` show it.

Times are milliseconds since the epoch (UTC); JSON columns hold compact JSON text.
status (``triggered`` / ``acknowledged`` / ``resolved``; ``none`` for a key seen only through
late or resolve-first signals, or joined to an incident before its first event was projected,
never listed), priority (``P1``…``P5`` or NULL), score (0-100), factors (JSON list of ``[name,
input, effect]`` that reproduce the score), severity, summary, service, sources (JSON list),
labels (JSON object; also one row each in ``alert_labels``), occurrences (distinct triggers in
the episode), episode (its number), duplicates (signals dropped as repeats), flapping /
silenced (0 or 1), group_key, incident_id (its open incident, if any), first_seen_at (the
earliest episode start), last_signal_at, last_change_at (latest decision), position (log
position of the latest event folded), links (JSON list of ``{"href", "text"}``) and details
(JSON object) of the latest trigger, as the sender gave them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, NamedTuple

import attrs
import orjson

from helios.apps.views import alert_labels, search
from helios.ports.read_models import Cursor, ReadModels, Row

DDL = (
    """CREATE TABLE IF NOT EXISTS alerts (
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT,
    score INTEGER,
    factors TEXT NOT NULL DEFAULT '[]',
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    service TEXT NOT NULL,
    sources TEXT NOT NULL,
    labels TEXT NOT NULL,
    occurrences INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0,
    flapping INTEGER NOT NULL DEFAULT 0,
    silenced INTEGER NOT NULL DEFAULT 0,
    group_key TEXT NOT NULL DEFAULT '',
    incident_id TEXT,
    first_seen_at BIGINT NOT NULL,
    last_signal_at BIGINT NOT NULL,
    last_change_at BIGINT,
    position BIGINT NOT NULL,
    links TEXT NOT NULL DEFAULT '[]',
    details TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, dedup_key)
)""",
    "CREATE INDEX IF NOT EXISTS alerts_by_status ON alerts (tenant, status, priority)",
    # The list's order (latest signal first, ties by dedup key) and the detail's lookup.
    "CREATE INDEX IF NOT EXISTS alerts_by_recent ON alerts (tenant, last_signal_at, dedup_key)",
    # The status and service filters, each in the list's order (a page stops early).
    "CREATE INDEX IF NOT EXISTS alerts_by_status_recent ON alerts "
    "(tenant, status, last_signal_at, dedup_key)",
    "CREATE INDEX IF NOT EXISTS alerts_by_service_recent ON alerts "
    "(tenant, service, last_signal_at, dedup_key)",
)
# An alert's row by its id (its stream's) goes through ``stream_directory``, which names every
# alert stream: an index of the stream ids here would be a second copy of that, written at a
# place of its own (the ids are hashes) for every new alert.

ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("alerts", "links", "TEXT NOT NULL DEFAULT '[]'"),
    ("alerts", "details", "TEXT NOT NULL DEFAULT '{}'"),
)
"""Columns added after the table was first released: ``(table, column, definition)``."""

Status = Literal["triggered", "acknowledged", "resolved", "none"]
Priority = Literal["P1", "P2", "P3", "P4", "P5"]
STATUSES: tuple[Status, ...] = ("triggered", "acknowledged", "resolved", "none")
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4", "P5")
OPEN_STATUSES: tuple[Status, ...] = ("triggered", "acknowledged")


class AlertRow(NamedTuple):
    """One row of ``alerts``, as stored (JSON columns as text), its columns in the table's
    order: the projector binds one to its statements as it is (a tuple made in one call)."""

    tenant: str
    dedup_key: str
    stream_id: str
    status: Status
    priority: Priority | None
    score: int | None
    factors: str
    severity: str
    summary: str
    service: str
    sources: str
    labels: str
    occurrences: int
    episode: int
    duplicates: int
    flapping: int
    silenced: int
    group_key: str
    first_seen_at: int
    last_signal_at: int
    last_change_at: int | None
    position: int
    links: str
    details: str
    incident_id: str | None = None
    """Set by the incident projection: written by the upsert only when not None (the alert
    joined an incident in the same page as its row)."""


COLUMNS: tuple[str, ...] = AlertRow._fields
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM alerts"
_WRITTEN = tuple(name for name in COLUMNS if name != "incident_id")
_JOINED = (*_WRITTEN, "incident_id")


def _upsert(columns: tuple[str, ...], also: str = "") -> str:
    # ``first_seen_at`` is the earliest episode start of any page (0: none yet), whatever
    # page brought it: a late signal can move a start earlier after the row was first
    # written. (A CASE, not min(a, b): PostgreSQL's min() only aggregates.)
    return f"""
INSERT INTO alerts ({", ".join(columns)})
VALUES ({", ".join("?" * len(columns))})
ON CONFLICT (tenant, dedup_key) DO UPDATE SET
    status = excluded.status, priority = excluded.priority, score = excluded.score,
    factors = excluded.factors, severity = excluded.severity, summary = excluded.summary,
    service = excluded.service, sources = excluded.sources, labels = excluded.labels,
    occurrences = excluded.occurrences, episode = excluded.episode,
    duplicates = alerts.duplicates + excluded.duplicates, flapping = excluded.flapping,
    silenced = excluded.silenced, group_key = excluded.group_key,
    last_signal_at = excluded.last_signal_at,
    first_seen_at = CASE
        WHEN alerts.first_seen_at = 0 THEN excluded.first_seen_at
        WHEN excluded.first_seen_at <> 0 AND excluded.first_seen_at < alerts.first_seen_at
            THEN excluded.first_seen_at
        ELSE alerts.first_seen_at END,
    last_change_at = COALESCE(excluded.last_change_at, alerts.last_change_at),
    position = excluded.position, links = excluded.links, details = excluded.details{also}
"""


_UPSERT = _upsert(_WRITTEN)
# A row whose alert joined an incident in the same page: one statement, not a second one
# setting the incident (``set_incidents``).
_UPSERT_JOINED = _upsert(_JOINED, ", incident_id = excluded.incident_id")


def _row(values: Row) -> AlertRow:
    # As read, in one call; a row of another width is refused (TypeError), as before.
    return AlertRow._make(values)


def upsert(
    cursor: Cursor,
    rows: Sequence[AlertRow],
    *,
    labels_unchanged: Callable[[AlertRow], bool] = lambda row: False,
    labels: Sequence[Mapping[str, str]] | None = None,
) -> None:
    """Write the rows of one page (``duplicates`` adds to the stored count; ``incident_id``
    when not None) and their labels.

    The label rows are rewritten from each row's ``labels`` and ``last_signal_at`` in the
    same transaction, so a label filter never sees an alert's labels other than those of its
    row; but not for the rows ``labels_unchanged`` vouches for (the caller last wrote the same
    labels and time: most of an alert's events change neither). ``labels``: each row's labels
    as the mapping its JSON was made from, when the caller has it (not parsed back).
    """
    if not rows:
        return
    plain = [row[:-1] for row in rows if row.incident_id is None]
    if plain:
        cursor.executemany(_UPSERT, plain)
    if len(plain) < len(rows):
        cursor.executemany(_UPSERT_JOINED, [row for row in rows if row.incident_id is not None])
    given: Sequence[Mapping[str, str] | None] = [None] * len(rows) if labels is None else labels
    alert_labels.replace(
        cursor,
        [
            (
                row.tenant,
                row.dedup_key,
                row.last_signal_at,
                orjson.loads(row.labels) if mapping is None else mapping,
            )
            for row, mapping in zip(rows, given, strict=True)
            if not labels_unchanged(row)
        ],
    )


# A join can come before the alert's first row (an incident's events precede its alerts' in
# the log): it makes the row as a placeholder (status "none", never listed) that the alert's
# own upsert fills in, keeping the incident.
_SET_INCIDENT = """
INSERT INTO alerts (tenant, dedup_key, stream_id, status, severity, summary, service, sources,
    labels, occurrences, episode, first_seen_at, last_signal_at, position, incident_id)
VALUES (?, ?, ?, 'none', 'info', '', '', '[]', '{}', 0, 0, 0, 0, 0, ?)
ON CONFLICT (tenant, dedup_key) DO UPDATE SET incident_id = excluded.incident_id
"""


def set_incident(
    cursor: Cursor, *, tenant: str, dedup_key: str, stream_id: str, incident_id: str
) -> None:
    """Point the alert at the incident it joined, whether or not its row was made yet
    (``stream_id``: its alert stream, for a row not made yet)."""
    cursor.execute(_SET_INCIDENT, (tenant, dedup_key, stream_id, incident_id))


def set_incidents(cursor: Cursor, joined: Sequence[tuple[str, str, str, str]]) -> None:
    """``set_incident`` for each (tenant, dedup key, stream id, incident id), in order, in
    one statement."""
    if joined:
        cursor.executemany(_SET_INCIDENT, joined)


@attrs.frozen(kw_only=True)
class AlertFilter:
    """What ``/v1/alerts`` lists: filters combine with AND; empty ones do not filter."""

    tenant: str
    statuses: tuple[str, ...] = ()
    """Any of these; none given: every status but ``none``."""
    priorities: tuple[str, ...] = ()
    service: str | None = None
    source: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    """(name, value) pairs, each an exact match of one of the alert's labels."""
    text: str | None = None
    """In the summary or the dedup key, case-insensitive: a scan of the tenant's rows."""
    since: int | None = None
    until: int | None = None
    after: tuple[int, str] | None = None
    """Start after this (last_signal_at, dedup_key) position of the list's order."""


def page(db: ReadModels, where: AlertFilter, *, limit: int) -> tuple[list[AlertRow], bool]:
    """Up to ``limit`` alerts, latest signal first (ties by dedup key, descending), and
    whether more follow.

    Every filter but ``text`` and ``source`` reads an index already in the list's order
    (the first label's rows in ``alert_labels``, else the alerts by status, service or
    recency), so a page costs about the same whatever the filter matches.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    if where.labels:
        # The first label's index rows come in the list's order: read them first (SQLite
        # keeps the join in the order written with CROSS JOIN), and stop after the page.
        name, value = where.labels[0]
        source = "alert_labels l CROSS JOIN alerts a"
        clauses = ["l.tenant = ?", "l.name = ?", "l.value = ?"]
        clauses += ["a.tenant = l.tenant", "a.dedup_key = l.dedup_key"]
        params: list[object] = [where.tenant, name, value]
        order = "l"
    else:
        source, clauses, params, order = "alerts a", ["a.tenant = ?"], [where.tenant], "a"
    _filter(where, clauses, params, order=order)
    rows = db.query(
        f"SELECT {', '.join('a.' + name for name in COLUMNS)} FROM {source} "
        f"WHERE {' AND '.join(clauses)} "
        f"ORDER BY {order}.last_signal_at DESC, {order}.dedup_key DESC LIMIT ?",
        [*params, limit + 1],
    )
    return [_row(r) for r in rows[:limit]], len(rows) > limit


def _filter(where: AlertFilter, clauses: list[str], params: list[object], *, order: str) -> None:
    if where.statuses:
        clauses.append(f"a.status IN ({', '.join('?' * len(where.statuses))})")
        params += where.statuses
    else:
        clauses.append("a.status <> 'none'")
    if where.priorities:
        clauses.append(f"a.priority IN ({', '.join('?' * len(where.priorities))})")
        params += where.priorities
    if where.service:
        clauses.append("a.service = ?")
        params.append(where.service)
    if where.source:
        # Sources are a short JSON list: a scan, narrowed by the other filters first.
        clauses.append(f"a.sources LIKE ? {search.ESCAPE}")
        params.append(search.anywhere(orjson.dumps(where.source).decode()))
    for name, value in where.labels[1:]:
        clauses.append(alert_labels.HAS_LABEL)
        params += [name, value]
    if where.text:
        like = f"LIKE ? {search.ESCAPE}"
        clauses.append(f"(LOWER(a.summary) {like} OR LOWER(a.dedup_key) {like})")
        params += [search.anywhere(where.text.lower())] * 2
    # Bounds on the order's own columns (equal to the alert's), so the index range starts
    # where the page does.
    if where.since is not None:
        clauses.append(f"{order}.last_signal_at >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append(f"{order}.last_signal_at < ?")
        params.append(where.until)
    if where.after is not None:
        at, key = where.after
        clauses.append(
            f"({order}.last_signal_at < ? OR "
            f"({order}.last_signal_at = ? AND {order}.dedup_key < ?))"
        )
        params += [at, at, key]


_BY_ID = (
    f"{_SELECT} WHERE tenant = ? AND stream_id = ? AND dedup_key = ("
    "SELECT key FROM stream_directory WHERE stream_id = ? AND kind = 'alert' AND tenant = ?)"
)


def by_id(db: ReadModels, *, tenant: str, alert_id: str) -> AlertRow | None:
    """The tenant's alert whose stream id is ``alert_id`` (another tenant's: None), found by
    the dedup key ``stream_directory`` names for it.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(_BY_ID, (tenant, alert_id, alert_id, tenant))
    return _row(rows[0]) if rows else None


def drop_stream_index(cursor: Cursor) -> None:
    """Drop the index of stream ids an earlier release made (a migration, run once, after
    ``streams.name_alert_streams``): ``by_id`` reads the directory instead."""
    cursor.execute("DROP INDEX IF EXISTS alerts_by_stream")


def open_keys(db: ReadModels) -> list[tuple[str, str]]:
    """(tenant, dedup key) of every triggered or acknowledged alert, in that order.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT tenant, dedup_key FROM alerts WHERE status IN "
        f"({', '.join('?' * len(OPEN_STATUSES))}) ORDER BY tenant, dedup_key",
        OPEN_STATUSES,
    )
    return [(str(tenant), str(key)) for tenant, key in rows]


@attrs.frozen
class PriorityCount:
    priority: str
    """``--`` for alerts without one."""
    status: str
    alerts: int


def counts_by_priority(db: ReadModels) -> list[PriorityCount]:
    """How many alerts of each (priority, status), every tenant together, in that order.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT COALESCE(priority, '--'), status, COUNT(*) FROM alerts GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return [PriorityCount(str(p), str(s), int(n)) for p, s, n in rows]


def total_duplicates(db: ReadModels) -> int:
    """Signals dropped as repeats, every alert of every tenant together.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return int(db.query("SELECT COALESCE(SUM(duplicates), 0) FROM alerts")[0][0])
