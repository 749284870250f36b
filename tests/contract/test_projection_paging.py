"""What the projector writes is a function of the log alone, on SQLite and PostgreSQL: pages of
any size, live as the log grows, give the rows of a rebuild from position 0 in one page."""

from __future__ import annotations

import random
from typing import Any

from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.apps.application.ingest import Ingestor
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.views import alerts
from helios.apps.views.positions import committed_position
from helios.apps.views.projector import Projector
from helios.apps.views.schema import REBUILT_TABLES
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

T0 = 1_700_000_000_000
INCIDENT = "SELECT status, incident_id, first_seen_at FROM alerts WHERE dedup_key = 'fp-1'"


def _row(first_seen_at: int, *, status: alerts.Status = "triggered") -> alerts.AlertRow:
    return alerts.AlertRow(
        tenant="acme", dedup_key="fp-1", stream_id="s-1", status=status, priority="P3",
        score=50, factors="[]", severity="warning", summary="disk full", service="db",
        sources="[]", labels="{}", occurrences=1, episode=1, duplicates=0, flapping=0,
        silenced=0, group_key="", first_seen_at=first_seen_at, last_signal_at=T0,
        last_change_at=T0, position=1, links="[]", details="{}",
    )  # fmt: skip


def _upsert(db: ReadModels, row: alerts.AlertRow) -> None:
    with db.transaction() as cursor:
        alerts.upsert(cursor, [row])


def test_an_incident_joined_before_the_alert_s_first_row_stays_when_the_row_is_made(
    db: ReadModels,
) -> None:
    with db.transaction() as cursor:
        alerts.set_incident(
            cursor, tenant="acme", dedup_key="fp-1", stream_id="s-1", incident_id="inc-1"
        )
    assert db.query(INCIDENT) == [("none", "inc-1", 0)]
    listed, _ = alerts.page(db, alerts.AlertFilter(tenant="acme"), limit=10)
    assert listed == []  # a placeholder is never listed
    _upsert(db, _row(T0))
    assert db.query(INCIDENT) == [("triggered", "inc-1", T0)]


def test_first_seen_at_keeps_the_earliest_episode_start_whatever_page_brought_it(
    db: ReadModels,
) -> None:
    _upsert(db, _row(0, status="none"))  # a key seen before any episode: no start yet
    for first_seen_at, kept in ((T0 + 10, T0 + 10), (T0, T0), (T0 + 20, T0), (0, T0)):
        _upsert(db, _row(first_seen_at))
        assert db.query(INCIDENT) == [("triggered", None, kept)]


def _tables(db: ReadModels) -> dict[str, list[Any]]:
    return {table: sorted(db.query(f"SELECT * FROM {table}"), key=repr) for table in REBUILT_TABLES}


def test_pages_of_any_size_as_the_log_grows_give_the_rows_of_a_rebuild(
    store: EventStore, db: ReadModels
) -> None:
    """The live projector follows batches as they are ingested, in pages of random sizes (one
    entry to a whole batch); then a rebuild empties the tables and projects the log at once."""
    envelopes = list(TrafficGenerator(tenant="acme", start=T0, seed=11).envelopes(120))
    ingestor = Ingestor(store)
    projector = Projector(store, db)
    sizes = random.Random(3)
    for first in range(0, len(envelopes), 30):
        ingestor.ingest(envelopes[first : first + 30])
        while page := store.read_log(
            after := committed_position(db, "projector"), sizes.choice((1, 2, 3, 7, 40, 400))
        ):
            projector.apply(page, after=after)
    live = _tables(db)
    assert live["alerts"] and live["incident_alerts"]
    assert db.query("SELECT COUNT(*) FROM alerts WHERE incident_id IS NOT NULL")[0][0] > 0

    projector.reset()
    Projector(store, db).apply(store.read_log(0, 100_000), after=0)
    assert _tables(db) == live
