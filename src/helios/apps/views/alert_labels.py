"""``alert_labels``: one row per label of each alert (tenant, dedup_key, name, value, and the
alert's last_signal_at), so that ``/v1/alerts?label=name=value`` reads an index in the list's
own order (latest signal first) rather than scanning the labels' JSON: a page costs about the
same whether the label matches one alert or most of them.

Derived from ``alerts.labels`` only, and written with it in the same transaction (by the
projector, through ``alerts.upsert``); read models made before this table get it filled from
the alerts' labels when opened (``fill_from_alerts``, a recorded migration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from helios.ports.read_models import Cursor

_TABLE = """CREATE TABLE IF NOT EXISTS alert_labels (
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    last_signal_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, dedup_key, name)
)"""
# The filter: the tenant's alerts with this label value, latest signal first.
_BY_VALUE = (
    "CREATE INDEX IF NOT EXISTS alert_labels_by_value ON alert_labels "
    "(tenant, name, value, last_signal_at, dedup_key)"
)
DDL = (_TABLE, _BY_VALUE)

SQLITE_DDL = (_TABLE + " WITHOUT ROWID", _BY_VALUE)
"""On SQLite the rows are kept in their primary key's order, with no rowid: a rowid table
keeps every label twice, in the table and again in the key's own index (about a third of
the labels' bytes)."""

HAS_LABEL = (
    "EXISTS (SELECT 1 FROM alert_labels x WHERE x.tenant = a.tenant "
    "AND x.dedup_key = a.dedup_key AND x.name = ? AND x.value = ?)"
)
"""A condition on ``alerts a`` (parameters: name, value): the alert has the label."""


_INSERT = (
    "INSERT INTO alert_labels (tenant, dedup_key, name, value, last_signal_at) "
    "VALUES (?, ?, ?, ?, ?)"
)


def replace(cursor: Cursor, alerts: Sequence[tuple[str, str, int, Mapping[str, str]]]) -> None:
    """Make the label rows of each (tenant, dedup key, last signal at, labels) exactly those."""
    if not alerts:
        return
    cursor.executemany(
        "DELETE FROM alert_labels WHERE tenant = ? AND dedup_key = ?",
        [(tenant, key) for tenant, key, _, _ in alerts],
    )
    rows = [
        (tenant, key, name, value, at)
        for tenant, key, at, labels in alerts
        for name, value in labels.items()
    ]
    if rows:
        cursor.executemany(_INSERT, rows)


_FILL_BATCH = 5_000


def fill_from_alerts(cursor: Cursor) -> None:
    """Write the label rows of every alert from its ``labels`` column (a migration, run once,
    in the transaction that records it); rows already there are kept."""
    cursor.execute(
        "SELECT tenant, dedup_key, labels, last_signal_at FROM alerts WHERE labels <> '{}'"
    )
    rows = [
        (tenant, key, name, value, at)
        for tenant, key, labels, at in cursor.fetchall()
        for name, value in orjson.loads(labels).items()
    ]
    for start in range(0, len(rows), _FILL_BATCH):
        cursor.executemany(
            f"{_INSERT} ON CONFLICT (tenant, dedup_key, name) DO NOTHING",
            rows[start : start + _FILL_BATCH],
        )


def drop_rowids(cursor: Cursor) -> None:
    """SQLite: remake a table an earlier release made with rowids as ``SQLITE_DDL`` makes it,
    its rows written again from the alerts (a migration, run once)."""
    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alert_labels'")
    found = cursor.fetchall()
    if found and "WITHOUT ROWID" in str(found[0][0]).upper():
        return
    cursor.execute("DROP TABLE IF EXISTS alert_labels")
    for statement in SQLITE_DDL:
        cursor.execute(statement)
    fill_from_alerts(cursor)
