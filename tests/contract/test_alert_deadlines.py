"""``alert_deadlines`` follows each open alert, on SQLite and PostgreSQL: projected from a real
log, moved by a ruleset change, cleared by the escalation and by the resolve."""

from __future__ import annotations

import json

from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.apps.application.ingest import Ingestor
from helios.apps.application.rules import publish_rules
from helios.apps.views import alert_deadlines, schema
from helios.apps.views.projector import Projector
from helios.domain.deadlines import IMMEDIATELY
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, Priority, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z
MINUTE = 60_000
EVERY_PRIORITY = tuple(Priority)


def _envelope(n: int, document: dict[str, object], source: SourceKind) -> Envelope:
    return Envelope(
        ingest_id=f"in-{n}",
        tenant="acme",
        integration="am-1",
        source=source,
        received_at=T0 + n * 1_000,
        body=json.dumps(document).encode(),
    )


def _alert(n: int, fingerprint: str, status: str = "firing") -> Envelope:
    alert = {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": fingerprint, "severity": "critical"},
        "annotations": {"summary": "disk full"},
        "startsAt": "2026-03-14T09:20:00Z",
        "endsAt": "2026-03-14T09:50:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    return _envelope(n, {"version": "4", "alerts": [alert]}, SourceKind.ALERTMANAGER)


def _rules(store: EventStore, *, version: int, after_min: int) -> None:
    ruleset = Ruleset(
        version=version, escalate_after_ms=after_min * MINUTE, escalate_priorities=EVERY_PRIORITY
    )
    publish_rules(store, tenant="acme", ruleset=ruleset, by="u-1", at=T0 + version)


def _due_of(db: ReadModels) -> dict[str, int | None]:
    return dict(db.query("SELECT dedup_key, next_due_at FROM alert_deadlines"))


class _Follow:
    """The projector, applying whatever the log gained since the last call."""

    def __init__(self, store: EventStore, db: ReadModels) -> None:
        self.store, self.projector, self.position = store, Projector(store, db), 0

    def __call__(self) -> None:
        page = self.store.read_log(self.position, 10_000)
        if page:
            self.projector.apply(page, after=self.position)
            self.position = page[-1].position


def test_the_deadline_follows_the_alert_through_trigger_rule_change_escalation_and_resolve(
    store: EventStore, db: ReadModels
) -> None:
    ingest, follow = Ingestor(store), _Follow(store, db)
    _rules(store, version=1, after_min=10)
    ingest.ingest([_alert(1, "fp-1"), _alert(2, "fp-2")])
    follow()
    assert _due_of(db) == {"fp-1": T0 + 10 * MINUTE, "fp-2": T0 + 10 * MINUTE}

    _rules(store, version=2, after_min=20)  # the rules move every open alert's deadline
    follow()
    assert _due_of(db) == {"fp-1": T0 + 20 * MINUTE, "fp-2": T0 + 20 * MINUTE}
    assert alert_deadlines.due(db, at=T0 + 19 * MINUTE, limit=10) == []

    at = T0 + 25 * MINUTE
    assert [key for _, _, key in alert_deadlines.due(db, at=at, limit=10)] == ["fp-1", "fp-2"]
    assert ingest.tick("acme", ["fp-1"], at) > 0  # escalated: nothing left for a tick to do
    follow()
    assert _due_of(db) == {"fp-1": None, "fp-2": T0 + 20 * MINUTE}
    assert [key for _, _, key in alert_deadlines.due(db, at=at, limit=10)] == ["fp-2"]

    ingest.ingest([_alert(3, "fp-2", status="resolved")])  # a closed alert has no row
    follow()
    assert _due_of(db) == {"fp-1": None}


def test_a_page_of_due_alerts_continues_where_the_last_one_stopped(
    store: EventStore, db: ReadModels
) -> None:
    ingest, follow = Ingestor(store), _Follow(store, db)
    _rules(store, version=1, after_min=10)
    ingest.ingest([_alert(n, f"fp-{n}") for n in range(1, 6)])
    follow()
    first = alert_deadlines.due(db, at=T0 + 10 * MINUTE, limit=3)
    rest = alert_deadlines.due(db, at=T0 + 10 * MINUTE, limit=3, after=first[-1])
    assert [key for _, _, key in first + rest] == [f"fp-{n}" for n in range(1, 6)]


def test_read_models_made_before_the_table_tick_their_open_alerts_once_then_know_them(
    store: EventStore, db: ReadModels
) -> None:
    """An upgraded database has no state for its open alerts: they are due at once, and the
    projector learns each one's deadline from the tick that follows."""
    ingest, follow = Ingestor(store), _Follow(store, db)
    _rules(store, version=1, after_min=10)
    ingest.ingest([_alert(1, "fp-1"), _alert(2, "fp-2")])
    follow()
    with db.transaction() as cursor:
        cursor.execute("DROP TABLE alert_deadlines")
        cursor.execute("DELETE FROM schema_migrations WHERE name = 'alert_deadlines'")
    schema.install(db)
    assert _due_of(db) == {"fp-1": IMMEDIATELY, "fp-2": IMMEDIATELY}

    assert ingest.tick("acme", ["fp-1", "fp-2"], T0 + MINUTE) == 0  # nothing was due yet
    follow()
    assert _due_of(db) == {"fp-1": T0 + 10 * MINUTE, "fp-2": T0 + 10 * MINUTE}
