"""The label index (``alert_labels``) stays in step with the alerts' labels, on SQLite and
PostgreSQL: the projector rewrites it with each alert row, a rebuild from position 0 gives the
same rows, and read models made before the table get it filled when opened."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.apps.application.ingest import Ingestor
from helios.apps.composition import open_read_models
from helios.apps.views import alert_labels, alerts
from helios.apps.views.positions import committed_position
from helios.apps.views.projector import Projector
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z
LABELS = "SELECT tenant, dedup_key, name, value, last_signal_at FROM alert_labels ORDER BY 1, 2, 3"


def _firing(n: int, fingerprint: str, labels: dict[str, str], minute: int) -> Envelope:
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", **labels},
                "annotations": {"summary": "disk full"},
                "startsAt": f"2026-03-14T09:{20 + minute:02d}:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }
    return Envelope(
        ingest_id=f"in-{n}",
        tenant="acme",
        integration="am-1",
        source=SourceKind.ALERTMANAGER,
        received_at=T0 + minute * 60_000,
        body=json.dumps(body).encode(),
    )


def _project(store: EventStore, db: ReadModels, projector: Projector) -> None:
    after = committed_position(db, "projector")
    page = store.read_log(after, 1_000)
    if page:
        projector.apply(page, after=after)


def _found(db: ReadModels, name: str, value: str) -> list[str]:
    where = alerts.AlertFilter(tenant="acme", labels=((name, value),))
    rows, _ = alerts.page(db, where, limit=50)
    return [row.dedup_key for row in rows]


def test_a_label_change_rewrites_the_alerts_label_rows(store: EventStore, db: ReadModels) -> None:
    """A later trigger with another value, and without a label, leaves only its own labels."""
    ingest = Ingestor(store)
    projector = Projector(store, db)
    ingest.ingest([_firing(1, "fp-1", {"env": "prod", "instance": "db-1"}, 0)])
    _project(store, db, projector)
    assert _found(db, "env", "prod") == ["fp-1"]

    ingest.ingest([_firing(2, "fp-1", {"env": "staging"}, 1)])
    _project(store, db, projector)

    at = T0 + 60_000
    assert db.query(LABELS) == [
        ("acme", "fp-1", "alertname", "DiskFull", at),
        ("acme", "fp-1", "env", "staging", at),
    ]
    assert (_found(db, "env", "prod"), _found(db, "env", "staging")) == ([], ["fp-1"])
    assert _found(db, "instance", "db-1") == []


def test_a_rebuild_from_position_0_gives_the_same_label_rows(
    store: EventStore, db: ReadModels
) -> None:
    """Projected page by page or all at once after a reset: the same rows."""
    ingest = Ingestor(store)
    projector = Projector(store, db)
    for n, (fingerprint, labels) in enumerate(
        [("fp-1", {"env": "prod"}), ("fp-2", {"env": "prod", "team": "db"}), ("fp-1", {})]
    ):
        ingest.ingest([_firing(n, fingerprint, labels, n)])
        _project(store, db, projector)
    projected = db.query(LABELS)
    assert len(projected) == 4

    projector.reset()
    assert db.query(LABELS) == []
    _project(store, db, projector)
    assert db.query(LABELS) == projected


def test_read_models_made_before_the_label_table_get_it_filled_when_opened(
    store: EventStore, read_models_url: str
) -> None:
    """An earlier release's database (no ``alert_labels``, no migrations recorded) is filled
    from the alerts' labels, once: what the projector would have written."""
    Ingestor(store).ingest(
        [_firing(1, "fp-1", {"env": "prod"}, 0), _firing(2, "fp-2", {"team": "db"}, 1)]
    )
    db = open_read_models(read_models_url)
    try:
        _project(store, db, Projector(store, db))
        projected = db.query(LABELS)
        with db.transaction() as cursor:
            cursor.execute("DROP TABLE alert_labels")
            cursor.execute("DROP TABLE schema_migrations")
    finally:
        db.close()

    upgraded = open_read_models(read_models_url)
    try:
        assert upgraded.query(LABELS) == projected
        assert _found(upgraded, "team", "db") == ["fp-2"]
    finally:
        upgraded.close()
    # Opened again: nothing written twice.
    again = open_read_models(read_models_url)
    try:
        assert again.query(LABELS) == projected
    finally:
        again.close()


def test_pages_of_a_label_filter_follow_the_list_order_without_gaps_or_repeats(
    store: EventStore, db: ReadModels
) -> None:
    """Walked two at a time after each page's last (time, key), with a second label and a
    status: the same alerts, in the same order, as one page of everything."""
    ingest = Ingestor(store)
    for n in range(7):
        labels = {"env": "prod" if n != 3 else "dev", "team": "db" if n % 2 else "web"}
        ingest.ingest([_firing(n, f"fp-{n}", labels, n % 4)])
    _project(store, db, Projector(store, db))
    where = alerts.AlertFilter(
        tenant="acme", statuses=("triggered",), labels=(("env", "prod"), ("team", "db"))
    )
    everything, _ = alerts.page(db, where, limit=50)
    assert sorted(row.dedup_key for row in everything) == ["fp-1", "fp-5"]
    where = alerts.AlertFilter(tenant="acme", labels=(("env", "prod"),))
    everything, _ = alerts.page(db, where, limit=50)
    walked: list[str] = []
    after: tuple[int, str] | None = None
    while True:
        rows, more = alerts.page(db, attrs.evolve(where, after=after), limit=2)
        walked += [row.dedup_key for row in rows]
        if not more:
            break
        after = (rows[-1].last_signal_at, rows[-1].dedup_key)
    assert walked == [row.dedup_key for row in everything]
    assert len(walked) == 6
    keys = [(row.last_signal_at, row.dedup_key) for row in everything]
    assert keys == sorted(keys, reverse=True)


def test_a_sqlite_file_keeps_label_rows_without_rowids_and_an_older_one_is_remade_once(
    store: EventStore, tmp_path: Path
) -> None:
    """A new SQLite file has ``alert_labels`` without rowids; a file an earlier release made
    with rowids is remade when opened, with the same rows, filtered as before, once."""
    url = f"sqlite:{tmp_path / 'readmodels.db'}"
    Ingestor(store).ingest(
        [_firing(1, "fp-1", {"env": "prod"}, 0), _firing(2, "fp-2", {"team": "db"}, 1)]
    )
    db = open_read_models(url)
    try:
        assert "WITHOUT ROWID" in _labels_table(db)
        _project(store, db, Projector(store, db))
        projected = db.query(LABELS)
        with db.transaction() as cursor:  # as an earlier release left it
            cursor.execute("DROP TABLE alert_labels")
            cursor.execute(alert_labels.DDL[0])
            cursor.execute(alert_labels.DDL[1])
            cursor.executemany("INSERT INTO alert_labels VALUES (?, ?, ?, ?, ?)", projected)
            cursor.execute("DELETE FROM schema_migrations WHERE name LIKE '%rowid%'")
        assert "WITHOUT ROWID" not in _labels_table(db)
    finally:
        db.close()

    for _opening in range(2):
        upgraded = open_read_models(url)
        try:
            assert "WITHOUT ROWID" in _labels_table(upgraded)
            assert upgraded.query(LABELS) == projected
            assert _found(upgraded, "team", "db") == ["fp-2"]
        finally:
            upgraded.close()


def _labels_table(db: ReadModels) -> str:
    rows = db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alert_labels'")
    return str(rows[0][0]).upper()
