"""The read models' tables: what the query API reads. Rebuildable from the log at any time.

Times are milliseconds since the epoch (UTC); JSON columns hold compact JSON text.

``alerts`` — one row per alert (tenant, dedup key), its current episode:
    status (``triggered`` / ``acknowledged`` / ``resolved``), priority (``P1``…``P5`` or NULL),
    score (0-100), factors (JSON list of ``[name, input, effect]`` that reproduce the score),
    severity, summary, service, sources (JSON list), labels (JSON object), occurrences (distinct
    triggers in the episode), episode (its number), duplicates (signals dropped as repeats),
    flapping / silenced (0 or 1), group_key, incident_id (its open incident, if any),
    first_seen_at, last_signal_at, last_change_at (latest decision), position (log position of
    the latest event folded), links (JSON list of ``{"href", "text"}``) and details (JSON
    object) of the latest trigger, as the sender gave them.
``incidents`` — one row per incident: tenant, group_key, number, status (``open`` /
    ``resolved``), priority, alerts (members count), opened_at, resolved_at, last_change_at.
``incident_alerts`` — members of each incident with their status and priority.
``incident_timeline`` — per incident, in log order: at, kind (``opened``, ``alert_joined``,
    ``alert_changed``, ``priority_changed``, ``notified``, ``note_added``, ``resolved``),
    dedup_key, detail (JSON).
``activity`` — the tenant's feed, one row per decision worth showing, in log order: at, kind,
    subject (dedup key, incident id or a change's service), text (one human-readable line).
``changes`` — one row per distinct change (deploys, config changes; never alerts): tenant,
    change_id, position, ingest_id, integration, source, service, origin, summary,
    occurred_at, received_at, links (JSON list), details (JSON object).
``notification_outbox`` — written by the notifier, *not* rebuilt: one row per
    ``notification_id`` with the rendered email and its delivery status (``pending`` /
    ``sent`` / ``failed``), attempts, next_attempt_at, last_error, sent_at.
``follower_positions`` — each follower's position in the log, committed with its writes.
``stream_directory`` — which tenant and key a stream id stands for (alert and incident-group
    streams), so followers can name the tenant of events that do not carry it.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS follower_positions (
    follower TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_directory (
    stream_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
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
);
CREATE INDEX IF NOT EXISTS alerts_by_status ON alerts (tenant, status, priority);
CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    group_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    priority TEXT,
    alerts INTEGER NOT NULL DEFAULT 0,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    last_change_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_status ON incidents (tenant, status);
CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT,
    PRIMARY KEY (incident_id, dedup_key)
);
CREATE TABLE IF NOT EXISTS incident_timeline (
    incident_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    dedup_key TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);
CREATE TABLE IF NOT EXISTS activity (
    position BIGINT PRIMARY KEY,
    tenant TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_by_tenant ON activity (tenant, position);
CREATE TABLE IF NOT EXISTS changes (
    tenant TEXT NOT NULL,
    change_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    ingest_id TEXT NOT NULL,
    integration TEXT NOT NULL,
    source TEXT NOT NULL,
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    summary TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    links TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (tenant, change_id)
);
CREATE INDEX IF NOT EXISTS changes_by_time ON changes (tenant, occurred_at, change_id);
CREATE INDEX IF NOT EXISTS changes_by_service ON changes (tenant, service, occurred_at);
CREATE TABLE IF NOT EXISTS notification_outbox (
    notification_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    position BIGINT NOT NULL,
    reason TEXT NOT NULL,
    priority TEXT,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON notification_outbox (status, next_attempt_at)
"""

ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("alerts", "links", "TEXT NOT NULL DEFAULT '[]'"),
    ("alerts", "details", "TEXT NOT NULL DEFAULT '{}'"),
)
"""Columns added to a table after it was first released: ``(table, column, definition)``.

``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is, so opening the read models
adds these when missing. Rows projected before keep the defaults until the projector writes
them again (any new event of the alert) or ``helios projections rebuild`` runs.
"""

REBUILT_TABLES = (
    "alerts",
    "incidents",
    "incident_alerts",
    "incident_timeline",
    "activity",
    "changes",
)
"""Tables ``helios projections rebuild`` empties (the outbox is history: never resent)."""
