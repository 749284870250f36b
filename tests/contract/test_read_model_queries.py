"""The views' queries the scheduler, the demo and the alert endpoints run, on SQLite and
PostgreSQL, over alerts projected from a real log."""

from __future__ import annotations

import json

from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.apps.application.ingest import Ingestor
from helios.apps.composition import open_read_models
from helios.apps.views import activity, alerts, incidents, outbox
from helios.apps.views.projector import Projector
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z


def _envelope(n: int, source: SourceKind, document: dict[str, object]) -> Envelope:
    return Envelope(
        ingest_id=f"in-{n}",
        tenant="acme",
        integration="am-1",
        source=source,
        received_at=T0 + n * 1_000,
        body=json.dumps(document).encode(),
    )


def _firing(n: int, fingerprint: str) -> Envelope:
    alert = {
        "status": "firing",
        "labels": {"alertname": "DiskFull", "instance": fingerprint},
        "annotations": {"summary": "disk full"},
        "startsAt": "2026-03-14T09:20:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    return _envelope(n, SourceKind.ALERTMANAGER, {"version": "4", "alerts": [alert]})


def _projected(store: EventStore, db: ReadModels) -> None:
    ingest = Ingestor(store)
    ingest.ingest([_firing(1, "fp-1"), _firing(2, "fp-2"), _firing(3, "fp-3")])
    ingest.ingest([_firing(4, "fp-1")])  # the same signal again: a duplicate
    ack = {"action": "acknowledge", "dedup_key": "fp-2", "user": "u-1"}
    ingest.ingest([_envelope(5, SourceKind.USER, ack)])
    Projector(store, db).apply(store.read_log(0, 1_000), after=0)


def test_open_keys_name_the_triggered_and_acknowledged_alerts_in_order(
    store: EventStore, db: ReadModels
) -> None:
    _projected(store, db)
    assert alerts.open_keys(db) == [("acme", "fp-1"), ("acme", "fp-2"), ("acme", "fp-3")]


def test_the_demo_counts_add_up_to_the_projected_alerts(store: EventStore, db: ReadModels) -> None:
    """Counts by (priority, status), duplicates, incidents by status and the outbox's size."""
    _projected(store, db)
    counts = alerts.counts_by_priority(db)
    by_status: dict[str, int] = {}
    for count in counts:
        by_status[count.status] = by_status.get(count.status, 0) + count.alerts
    assert by_status == {"triggered": 2, "acknowledged": 1}
    assert alerts.total_duplicates(db) == 1
    assert set(incidents.counts_by_status(db)) <= {"open", "resolved"}
    assert outbox.count(db) == 0


def test_an_alert_is_found_by_its_id_in_its_own_tenant_only(
    store: EventStore, db: ReadModels
) -> None:
    _projected(store, db)
    rows, more = alerts.page(db, alerts.AlertFilter(tenant="acme"), limit=2)
    assert (len(rows), more) == (2, True)
    found = alerts.by_id(db, tenant="acme", alert_id=rows[0].stream_id)
    assert found == rows[0]
    assert alerts.by_id(db, tenant="other", alert_id=rows[0].stream_id) is None


def _stream_index(db: ReadModels) -> list[object]:
    if db.is_postgres:
        return db.query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname = 'alerts_by_stream'"
        )
    return db.query("SELECT name FROM sqlite_master WHERE name = 'alerts_by_stream'")


def test_read_models_made_with_an_index_of_stream_ids_find_their_alerts_without_it(
    store: EventStore, read_models_url: str
) -> None:
    """An earlier release's database (alert rows whose streams the directory does not name,
    the index of stream ids, neither migration recorded): opened, every alert is found by its
    id in its own tenant only, the index is gone, and opening it again changes nothing."""
    db = open_read_models(read_models_url)
    try:
        _projected(store, db)
        listed, _ = alerts.page(db, alerts.AlertFilter(tenant="acme"), limit=50)
        names = "SELECT stream_id, kind, tenant, key FROM stream_directory ORDER BY stream_id"
        named = db.query(names)
        with db.transaction() as cursor:
            cursor.execute("DELETE FROM stream_directory WHERE kind = 'alert'")
            cursor.execute("CREATE INDEX alerts_by_stream ON alerts (stream_id)")
            cursor.execute(
                "DELETE FROM schema_migrations "
                "WHERE name IN ('stream_directory_alerts', 'alerts_by_stream_dropped')"
            )
        assert alerts.by_id(db, tenant="acme", alert_id=listed[0].stream_id) is None
        assert _stream_index(db)
    finally:
        db.close()

    for _ in range(2):
        upgraded = open_read_models(read_models_url)
        try:
            assert len(listed) == 3
            for row in listed:
                assert alerts.by_id(upgraded, tenant="acme", alert_id=row.stream_id) == row
                assert alerts.by_id(upgraded, tenant="other", alert_id=row.stream_id) is None
            assert upgraded.query(names) == named
            assert _stream_index(upgraded) == []
        finally:
            upgraded.close()


def test_an_outbox_email_is_due_until_sent_and_written_once(db: ReadModels) -> None:
    """Written twice: one row. A failed attempt postpones it; once sent it is never due."""
    email = outbox.PendingEmail(
        notification_id="n-1", tenant="acme", dedup_key="fp-1", position=7, reason="triggered",
        priority="P2", recipients="a@x.io,b@x.io", subject="s", body="b", created_at=T0,
    )  # fmt: skip
    for _ in range(2):
        with db.transaction() as cursor:
            outbox.add_pending(cursor, [email])
    assert outbox.count(db) == 1
    [due] = outbox.due(db, now=T0, limit=10)
    assert (due.notification_id, due.recipients, due.attempts) == ("n-1", "a@x.io,b@x.io", 0)

    outbox.mark(db, "n-1", status="pending", attempts=1, next_attempt_at=T0 + 2_000, error="x")
    assert outbox.due(db, now=T0 + 1_999, limit=10) == []
    assert [e.attempts for e in outbox.due(db, now=T0 + 2_000, limit=10)] == [1]

    outbox.mark(db, "n-1", status="sent", attempts=2, next_attempt_at=T0, error=None, sent_at=T0)
    assert outbox.due(db, now=T0 + 10_000, limit=10) == []


def test_a_retry_makes_unsent_emails_due_now_and_never_touches_a_sent_one(db: ReadModels) -> None:
    """After a mail outage: pending rows due at once, failed ones (with --failed) revived."""
    for n, status in ((1, "pending"), (2, "failed"), (3, "sent")):
        email = outbox.PendingEmail(
            notification_id=f"n-{n}", tenant="acme", dedup_key=f"fp-{n}", position=n,
            reason="triggered", priority="P1", recipients="a@x.io", subject="s", body="b",
            created_at=T0 + n,
        )  # fmt: skip
        with db.transaction() as cursor:
            outbox.add_pending(cursor, [email])
        outbox.mark(
            db, f"n-{n}", status=status, attempts=8, next_attempt_at=T0 + 300_000, error="x"
        )
    before = outbox.summary(db)
    assert before.by_status == {"pending": 1, "sent": 1, "failed": 1}
    assert before.oldest_pending_created_at == T0 + 1

    assert outbox.retry_now(db, now=T0 + 10, include_failed=False) == 1
    assert [e.notification_id for e in outbox.due(db, now=T0 + 10, limit=10)] == ["n-1"]

    assert outbox.retry_now(db, now=T0 + 20, include_failed=True) == 2
    due = outbox.due(db, now=T0 + 20, limit=10)
    assert [(e.notification_id, e.attempts) for e in due] == [("n-1", 8), ("n-2", 0)]
    assert outbox.summary(db).by_status == {"pending": 2, "sent": 1, "failed": 0}


def test_the_feed_and_the_incidents_page_back_in_order(store: EventStore, db: ReadModels) -> None:
    """Walked one row at a time, each list gives what one page of everything gives."""
    _projected(store, db)
    lines, _ = activity.page(db, tenant="acme", limit=500)
    assert lines and [line.position for line in lines] == sorted(
        (line.position for line in lines), reverse=True
    )
    walked: list[int] = []
    before: int | None = None
    while True:
        page, more = activity.page(db, tenant="acme", before=before, limit=1)
        walked += [line.position for line in page]
        if not more:
            break
        before = page[-1].position
    assert walked == [line.position for line in lines]
    triggered, _ = activity.page(db, tenant="acme", kind="triggered", limit=9)
    assert {line.kind for line in triggered} == {"triggered"}

    opened, _ = incidents.page(db, tenant="acme", limit=500)
    assert opened
    for row in opened:
        assert incidents.by_id(db, tenant="acme", incident_id=row.incident_id) == row
        assert incidents.by_id(db, tenant="other", incident_id=row.incident_id) is None
        members = incidents.members(db, tenant="acme", incident_id=row.incident_id)
        assert len(members) == row.alerts
        assert all(m.alert_id is not None for m in members)
        assert incidents.timeline(db, incident_id=row.incident_id)[0].kind == "opened"
