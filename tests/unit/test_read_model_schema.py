"""Opening read models made by an earlier release adds the columns added since, on SQLite and
PostgreSQL, keeping the rows already there."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from helios.apps.composition import open_read_models
from helios.apps.views.positions import committed_position
from sqlite_locks import write_lock_held

# The alerts table as the first release created it (before links and details).
FIRST_ALERTS_TABLE = """
CREATE TABLE alerts (
    tenant TEXT NOT NULL, dedup_key TEXT NOT NULL, stream_id TEXT NOT NULL,
    status TEXT NOT NULL, priority TEXT, score INTEGER, factors TEXT NOT NULL DEFAULT '[]',
    severity TEXT NOT NULL, summary TEXT NOT NULL, service TEXT NOT NULL,
    sources TEXT NOT NULL, labels TEXT NOT NULL, occurrences INTEGER NOT NULL,
    episode INTEGER NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0,
    flapping INTEGER NOT NULL DEFAULT 0, silenced INTEGER NOT NULL DEFAULT 0,
    group_key TEXT NOT NULL DEFAULT '', incident_id TEXT, first_seen_at BIGINT NOT NULL,
    last_signal_at BIGINT NOT NULL, last_change_at BIGINT, position BIGINT NOT NULL,
    PRIMARY KEY (tenant, dedup_key)
)
"""
FIRST_ROW = (
    "INSERT INTO alerts (tenant, dedup_key, stream_id, status, severity, summary, service, "
    "sources, labels, occurrences, episode, first_seen_at, last_signal_at, position) "
    "VALUES ('acme', 'k1', 's1', 'triggered', 'error', 'old', 'db', '[]', '{}', 1, 1, 5, 5, 9)"
)


@pytest.fixture(params=["sqlite", "postgres"])
def first_release_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A read-model database holding the first release's alerts table and one row."""
    if request.param == "sqlite":
        path = tmp_path / "readmodels.db"
        with sqlite3.connect(path) as conn:
            conn.execute(FIRST_ALERTS_TABLE)
            conn.execute(FIRST_ROW)
        yield f"sqlite:{path}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"rm_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(FIRST_ALERTS_TABLE)
        conn.execute(FIRST_ROW)
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_an_earlier_alerts_table_gains_links_and_details_with_defaults(
    first_release_url: str,
) -> None:
    """The old row reads back with empty links and details; opening twice changes nothing."""
    open_read_models(first_release_url).close()
    db = open_read_models(first_release_url)
    try:
        rows = db.query("SELECT dedup_key, summary, links, details FROM alerts")
    finally:
        db.close()
    assert rows == [("k1", "old", "[]", "{}")]


def test_sqlite_read_models_open_a_fresh_file_while_another_process_creates_it(
    tmp_path: Path,
) -> None:
    """Switching a fresh file to WAL waits for another opener's write lock, like any write."""
    path = tmp_path / "readmodels.db"
    with write_lock_held(path, for_s=0.5):
        db = open_read_models(f"sqlite:{path}")
        try:
            assert committed_position(db, "alerts") == 0
        finally:
            db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
