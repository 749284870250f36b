"""The ingest worker's and the followers' in-memory states are bounded (an LRU each, sized by
``HELIOS_STATE_CACHE`` and ``HELIOS_FOLLOWER_CACHE``): a state evicted is loaded again as it
was, so keeping few changes nothing recorded or projected, only what memory holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workers import outcome

from helios.adapters.store.factory import open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.application.ingest import Ingestor, Snapshotting, StateCache
from helios.apps.composition import open_read_models, open_services
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.views.projector import Projector
from helios.apps.views.streams import StreamDirectory
from helios.apps.workers.followers import follow
from helios.apps.workers.ingest import IngestWorker
from helios.apps.workers.notifier import NotificationOutbox
from helios.domain import alert
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

START = 1_700_000_000_000
TABLES = ("alerts", "alert_labels", "alert_deadlines", "incidents", "activity")


def _envelopes() -> list[Envelope]:
    return list(TrafficGenerator(tenant="acme", start=START, seed=11).envelopes(300))


def _ingest(store: EventStore, envelopes: list[Envelope], ingestor: Ingestor) -> None:
    for first in range(0, len(envelopes), 25):
        ingestor.ingest(envelopes[first : first + 25])


def _log(store: EventStore) -> list[tuple[Any, ...]]:
    return [
        (entry.position, entry.stream_id, entry.version, entry.name, entry.event)
        for entry in store.read_log(0, 1_000_000)
    ]


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[EventStore]:
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    _ingest(store, _envelopes(), Ingestor(store))
    try:
        yield store
    finally:
        store.close()


def _project(store: EventStore, db: ReadModels, follower: Any) -> None:
    asyncio.run(
        follow(
            follower, store=store, db=db, stop=asyncio.Event(), page_size=53, until_caught_up=True
        )
    )


def _tables(db: ReadModels) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(db.query(f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def test_an_ingest_worker_keeping_three_states_decides_what_one_keeping_all_decides(
    tmp_path: Path, store: EventStore
) -> None:
    small = open_event_store(f"sqlite:{tmp_path / 'small.db'}")
    try:
        # Snapshots every 3 events: most evicted states come back from a snapshot.
        ingestor = Ingestor(small, cache=StateCache(3), snapshotting=Snapshotting(every=3))
        _ingest(small, _envelopes(), ingestor)
        assert ingestor.stats.loads > 50 and ingestor.stats.snapshots_used > 0
        assert _log(small) == _log(store)
    finally:
        small.close()


def test_followers_keeping_three_alerts_write_what_followers_keeping_all_write(
    tmp_path: Path, store: EventStore
) -> None:
    written = {}
    for kept in (3, 100_000):
        db = open_read_models(f"sqlite:{tmp_path / f'read-{kept}.db'}")
        try:
            _project(store, db, Projector(store, db, kept=kept))
            outbox = NotificationOutbox(
                store, db, public_url="http://h", recipients="oncall@x", kept=kept
            )
            _project(store, db, outbox)
            emails = db.query("SELECT notification_id, subject, body FROM notification_outbox")
            written[kept] = (_tables(db), sorted(emails))
        finally:
            db.close()
    assert written[3][0]["alerts"] and written[3][1]
    assert written[3] == written[100_000]


def _save_and_fail(db: ReadModels, directory: StreamDirectory) -> None:
    with db.transaction() as cursor:
        directory.save(cursor)
        raise RuntimeError("the page's transaction fails")


def test_a_directory_names_every_stream_of_a_page_it_learned_beyond_its_capacity(
    store: EventStore, tmp_path: Path
) -> None:
    db = open_read_models(f"sqlite:{tmp_path / 'directory.db'}")
    try:
        page = store.read_log(0, 200)
        directory = StreamDirectory(db, store, capacity=1)
        directory.learn(page)
        # Incident-group streams can be named only from what was learned (the store's
        # stream does not say whose it is): unsaved names must survive eviction.
        names = {entry.stream_id: directory.name(entry.stream_id) for entry in page}
        groups = {n for n in names.values() if n is not None and n.kind == "group"}
        assert groups
        # A save rolled back (the page's transaction failed) is written again by the next.
        with pytest.raises(RuntimeError):
            _save_and_fail(db, directory)
        directory.learn(store.read_log(200, 50))
        with db.transaction() as cursor:
            directory.save(cursor)
        directory.saved()
        again = StreamDirectory(db, store, capacity=1)
        assert {stream: again.name(stream) for stream in names} == names
        signals = [e for e in page if isinstance(e.event, alert.SignalAccepted)]
        assert all(names[e.stream_id] is not None for e in signals)
    finally:
        db.close()


def test_the_cache_sizes_default_to_bounded_values_and_read_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.state_cache, defaults.follower_cache) == (5_000, 2_500)
    assert defaults.follower_window == 10_000
    assert defaults.worker_batch_bytes == 2_000_000
    chosen = Settings.from_env(
        {
            "HELIOS_STATE_CACHE": "5000",
            "HELIOS_FOLLOWER_CACHE": "2000",
            "HELIOS_WORKER_BATCH_BYTES": "100000",
        }
    )
    assert (chosen.state_cache, chosen.follower_cache) == (5_000, 2_000)
    assert chosen.worker_batch_bytes == 100_000


def test_a_received_batch_of_large_bodies_is_decided_in_parts_recording_the_same_log(
    tmp_path: Path, store: EventStore
) -> None:
    envelopes = _envelopes()
    largest = max(len(e.body) for e in envelopes)
    committed: list[tuple[int, int]] = []

    async def run() -> tuple[Any, ...]:
        settings = Settings(data_dir=tmp_path / "data")
        async with open_services(settings) as services:
            await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            stop = asyncio.Event()
            worker = IngestWorker(
                queue=services.queue,
                store=services.store,
                concurrency=1,
                batch=500,
                wait_s=0.2,
                batch_bytes=4 * largest,
                on_committed=lambda part, _report: committed.append(
                    (len(part), sum(len(e.body) for e in part))
                ),
            )
            task = asyncio.create_task(worker.run(stop))
            while await services.queue.depth() > 0:
                await asyncio.sleep(0.05)
            stop.set()
            await task
            return outcome(services.store)

    recorded = asyncio.run(run())

    assert sum(count for count, _ in committed) == len(envelopes)
    assert all(size <= 4 * largest for _, size in committed) and len(committed) > 10
    assert recorded == outcome(store)
