"""Followers fold what the log pages bring: a burst of new alerts is projected and queued for
email without reading alert streams back from the store, and what they write is what a fold of
each stream gives, wherever a follower starts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from workers import outcome

from helios.adapters.store.factory import open_event_store
from helios.apps.application.analytics.decisions import decision_body, is_fanned_out
from helios.apps.application.analytics.facts import fact_from_message
from helios.apps.application.ingest import Ingestor
from helios.apps.composition import open_read_models
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.views.positions import move_position
from helios.apps.views.projector import Projector
from helios.apps.views.schema import REBUILT_TABLES
from helios.apps.views.streams import FoldedAlert
from helios.apps.workers.fanout import DecisionFanout
from helios.apps.workers.followers import follow
from helios.apps.workers.notifier import NotificationOutbox
from helios.apps.workers.templates import render
from helios.domain import alert
from helios.ports.event_store import EventStore, RecordedEvent
from helios.ports.read_models import ReadModels

START = 1_700_000_000_000


class CountingStore:
    """The store, counting the alert streams read back one by one (everything else passes)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.stream_reads = 0

    def read_stream(self, stream_id: uuid.UUID, after_version: int = 0) -> Sequence[RecordedEvent]:
        recorded = self._store.read_stream(stream_id, after_version)
        first = self._store.read_stream(stream_id)[:1]
        self.stream_reads += bool(first) and first[0].name.startswith("helios.alert.")
        return recorded

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[EventStore]:
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(240))
    ingestor = Ingestor(store)
    for first in range(0, len(envelopes), 50):
        ingestor.ingest(envelopes[first : first + 50])
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(name="db")
def db_fixture(tmp_path: Path) -> Iterator[ReadModels]:
    db = open_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    try:
        yield db
    finally:
        db.close()


def _follow(follower: Any, store: Any, db: ReadModels, page_size: int) -> None:
    asyncio.run(
        follow(
            follower,
            store=store,
            db=db,
            stop=asyncio.Event(),
            page_size=page_size,
            until_caught_up=True,
        )
    )


def _expected_emails(store: EventStore, after: int) -> dict[str, tuple[str, str]]:
    """Per notification decided after ``after``: the email rendered from a fold of its
    alert's whole stream up to the request."""
    expected: dict[str, tuple[str, str]] = {}
    states: dict[uuid.UUID, FoldedAlert] = {}
    position = 0
    while page := store.read_log(position, 1000):
        for entry in page:
            event = entry.event
            if isinstance(event, alert.SignalAccepted | alert.SignalIgnored):
                signal = event.signal
                states.setdefault(
                    entry.stream_id,
                    FoldedAlert(alert.initial_state(signal.tenant, signal.dedup_key), 0),
                )
            folded = states.get(entry.stream_id)
            if folded is None or not entry.name.startswith("helios.alert."):
                continue
            folded.state = alert.evolve(folded.state, event)
            folded.version = entry.version
            if alert.scores(event):
                folded.factors = event.factors
            if isinstance(event, alert.NotificationRequested) and entry.position > after:
                email = render(event, folded, public_url="http://h")
                expected[event.notification_id] = (email.subject, email.body)
        position = page[-1].position
    return expected


def _written_emails(db: ReadModels) -> dict[str, tuple[str, str]]:
    rows = db.query("SELECT notification_id, subject, body FROM notification_outbox")
    return {str(n): (str(s), str(b)) for n, s, b in rows}


def test_new_alerts_are_projected_and_queued_for_email_without_reading_streams_back(
    store: EventStore, db: ReadModels
) -> None:
    """From the start of the log, every alert stream begins on a page: nothing is read back,
    and each email is the one a fold of its whole stream renders."""
    counting = CountingStore(store)
    _follow(Projector(counting, db), counting, db, page_size=97)  # type: ignore[arg-type]
    outbox = NotificationOutbox(counting, db, public_url="http://h", recipients="oncall@x")  # type: ignore[arg-type]
    _follow(outbox, counting, db, page_size=97)
    assert counting.stream_reads == 0
    folds, _ = outcome(store)
    rows = dict(db.query("SELECT dedup_key, status FROM alerts WHERE status <> 'none'"))
    assert rows == {
        key: fold.episode.status.value
        for key, (fold, _, _) in folds.items()
        if fold.episode is not None
    }
    emails = _written_emails(db)
    assert emails and emails == _expected_emails(store, after=0)


def test_a_notifier_starting_mid_log_renders_each_email_from_the_whole_stream(
    store: EventStore, db: ReadModels
) -> None:
    """Started after part of the log, the notifier reads back the streams it joined late and
    still renders what a fold of the whole stream gives."""
    middle = store.max_position() // 2
    with db.transaction() as cursor:
        move_position(cursor, "notifier", after=0, to=middle)
    counting = CountingStore(store)
    outbox = NotificationOutbox(counting, db, public_url="http://h", recipients="oncall@x")  # type: ignore[arg-type]
    _follow(outbox, counting, db, page_size=61)
    emails = _written_emails(db)
    assert emails and emails == _expected_emails(store, after=middle)
    assert counting.stream_reads > 0


class Recording:
    """A follower that keeps its pages and has no use for recorded inputs."""

    name = "recording"

    def __init__(self, db: ReadModels) -> None:
        self._db = db
        self.entries: list[Any] = []

    @staticmethod
    def left_encoded(name: str) -> bool:
        return name.startswith("helios.intake.")

    def apply(self, page: Sequence[Any], *, after: int) -> None:
        self.entries += page
        with self._db.transaction() as cursor:
            move_position(cursor, self.name, after=after, to=page[-1].position)


def test_a_follower_gets_the_entries_it_has_no_use_for_undecoded(
    store: EventStore, db: ReadModels
) -> None:
    """Entries a follower leaves encoded come with their stored bytes and no event; the
    others are decoded, and none is missing."""
    follower = Recording(db)
    _follow(follower, store, db, page_size=100)
    names = [e.name for e in follower.entries]
    assert names == [e.name for e in store.read_log(0, 100_000)]
    intake = [e for e in follower.entries if e.name.startswith("helios.intake.")]
    assert intake and all(e.event is None and e.encoded for e in intake)
    others = [e for e in follower.entries if not e.name.startswith("helios.intake.")]
    assert others and all(e.event is not None and e.encoded is None for e in others)


class Sending:
    """An analytics queue that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, messages: Sequence[Any]) -> None:
        self.sent += messages


def test_the_fan_out_sends_every_decision_without_decoding_the_intake_entries(
    store: EventStore, db: ReadModels
) -> None:
    """What normalization made of an envelope, and the envelope, are most of the bytes of the
    log: the fan-out, which sends only alert and incident decisions, leaves them encoded."""
    decoded: list[Any] = []

    class Watching(CountingStore):
        def read_log(self, after: int, limit: int, **options: Any) -> Sequence[Any]:
            page = self._store.read_log(after, limit, **options)
            decoded.extend(e.name for e in page if e.event is not None)
            return page

    watching = Watching(store)
    queue = Sending()
    _follow(DecisionFanout(watching, db, queue), watching, db, page_size=100)  # type: ignore[arg-type]
    assert decoded and not [name for name in decoded if name.startswith("helios.intake.")]
    fanned = [e for e in store.read_log(0, 100_000) if is_fanned_out(e.name)]
    assert [m.deduplication_id for m in queue.sent] == [f"decision/{e.position}" for e in fanned]


def test_the_fan_out_sends_the_decisions_analytics_counts_and_no_other(
    store: EventStore, db: ReadModels
) -> None:
    """Incident events and the decisions no fact is made of would only be received and
    dropped by analytics: they are not sent; every decision a fact is made of is."""
    queue = Sending()
    _follow(DecisionFanout(store, db, queue), store, db, page_size=100)
    decisions = [
        e
        for e in store.read_log(0, 100_000)
        if e.name.startswith(("helios.alert.", "helios.incident."))
    ]
    assert any(e.name.startswith("helios.incident.") for e in decisions)
    counted = [
        e.position
        for e in decisions
        if fact_from_message(decision_body(e, tenant="acme", key="k")) is not None
    ]
    assert counted and len(counted) < len(decisions)
    assert [m.deduplication_id for m in queue.sent] == [f"decision/{p}" for p in counted]


def _tables(db: ReadModels) -> dict[str, list[Any]]:
    """Every row of every table a rebuild makes, in one order whatever the insertion order."""
    return {table: sorted(db.query(f"SELECT * FROM {table}"), key=repr) for table in REBUILT_TABLES}


def test_the_projected_rows_are_the_same_whatever_the_pages_hold(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """A page holding several events of an alert writes its row once, from the last of them:
    every column of every table is that of a projector given one entry per page, including
    an alert's incident joined before its first row and an episode's start moved earlier by a
    late signal in a later page."""
    one_by_one = open_read_models(f"sqlite:{tmp_path / 'one_by_one.db'}")
    try:
        _follow(Projector(store, one_by_one), store, one_by_one, page_size=1)
        _follow(Projector(store, db), store, db, page_size=500)
        rows = _tables(one_by_one)
        assert all(rows[table] for table in ("alerts", "alert_labels", "incident_alerts"))
        joined = "SELECT COUNT(*) FROM alerts WHERE incident_id IS NOT NULL"
        assert one_by_one.query(joined)[0][0] > 0
        assert _tables(db) == rows
    finally:
        one_by_one.close()


class StatementCount:
    """The read models, counting the statements (one ``executemany`` is one) of each
    transaction."""

    def __init__(self, db: ReadModels) -> None:
        self._db = db
        self.per_transaction: list[int] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._db.transaction() as cursor:
            counting = _CountingCursor(cursor)
            yield counting
            self.per_transaction.append(counting.statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class _CountingCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.statements = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.statements += 1
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        self.statements += 1
        return self._cursor.executemany(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def test_a_page_is_written_with_a_few_statements_per_table_not_one_per_event(
    store: EventStore, db: ReadModels
) -> None:
    """Alert, member, timeline and activity rows of a page go in one statement per table
    (the incidents' own rows: one per run of the same kind of change), not one or more per
    event: a page of 500 entries, most of them decisions, takes under 100."""
    counting = StatementCount(db)
    _follow(Projector(store, counting), store, counting, page_size=500)  # type: ignore[arg-type]
    pages = [n for n in counting.per_transaction if n > 0]
    decisions = sum(1 for e in store.read_log(0, 100_000) if is_fanned_out(e.name))
    assert decisions > 1_000
    assert len(pages) >= 3
    assert max(pages) < 100, counting.per_transaction
