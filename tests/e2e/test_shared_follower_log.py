"""Followers of one process reading the log through the entries they share: the projector, the
notifier and the fan-out running together write what each writes reading the store on its
own, while every entry of the log is read from the store once and decoded at most once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from helios.adapters.store.factory import open_event_store
from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.shared_log import SharedLog
from helios.apps.application.ingest import Ingestor
from helios.apps.composition import open_read_models, shared_log
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.views.projector import Projector
from helios.apps.workers.fanout import DecisionFanout
from helios.apps.workers.followers import follow
from helios.apps.workers.notifier import NotificationOutbox
from helios.ports.event_store import EventStore, LogEntry, LogReader
from helios.ports.read_models import ReadModels

START = 1_700_000_000_000
PAGE = 97


class CountingLog:
    """The real store, counting the entries read from it and those decoded afterwards."""

    def __init__(self, store: RecorderEventStore) -> None:
        self._store = store
        self.entries_read = 0
        self.decoded: list[int] = []

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        page = self._store.read_log(after, limit, encoded=encoded)
        self.entries_read += len(page)
        return page

    def decode_entry(self, entry: LogEntry) -> LogEntry:
        self.decoded.append(entry.position)
        return self._store.decode_entry(entry)


class Sending:
    """An analytics queue that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, messages: Sequence[Any]) -> None:
        self.sent += messages


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[RecorderEventStore]:
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    assert isinstance(store, RecorderEventStore)
    envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=7).envelopes(300))
    ingestor = Ingestor(store)
    for first in range(0, len(envelopes), 60):
        ingestor.ingest(envelopes[first : first + 60])
    try:
        yield store
    finally:
        store.close()


def _run_together(store: EventStore, log: LogReader, db: ReadModels) -> list[Any]:
    """Projector, notifier and fan-out over ``log`` at once, until each is caught up."""
    queue = Sending()
    followers = [
        Projector(store, db),
        NotificationOutbox(store, db, public_url="http://h", recipients="oncall@x"),
        DecisionFanout(store, db, queue),  # type: ignore[arg-type]
    ]

    async def main() -> None:
        stop = asyncio.Event()
        await asyncio.gather(
            *(
                follow(f, store=log, db=db, stop=stop, page_size=PAGE, until_caught_up=True)
                for f in followers
            )
        )

    asyncio.run(main())
    return [m.deduplication_id for m in queue.sent]


# The outbox stamps when a row was queued with the clock: the rest is what the log decides.
_CLOCK_COLUMNS = {"next_attempt_at", "created_at"}


def _read_models(db: ReadModels) -> dict[str, list[str]]:
    """Every row of every read-model table, without the columns stamped with the clock."""
    tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    models: dict[str, list[str]] = {}
    for (table,) in tables:
        columns = [c[1] for c in db.query(f'PRAGMA table_info("{table}")')]
        kept = ", ".join(f'"{c}"' for c in columns if c not in _CLOCK_COLUMNS)
        models[str(table)] = sorted(map(repr, db.query(f'SELECT {kept} FROM "{table}"')))
    return models


def test_followers_sharing_pages_write_what_they_write_alone_reading_each_entry_once(
    store: RecorderEventStore, tmp_path: Path
) -> None:
    alone = open_read_models(f"sqlite:{tmp_path / 'alone.db'}")
    shared = open_read_models(f"sqlite:{tmp_path / 'shared.db'}")
    try:
        sent_alone = _run_together(store, store, alone)
        counting = CountingLog(store)
        log = SharedLog(counting, entries=100_000)  # the whole log: nothing dropped
        sent_shared = _run_together(store, log, shared)
        expected, got = _read_models(alone), _read_models(shared)
    finally:
        alone.close()
        shared.close()

    assert expected["alerts"] and expected["notification_outbox"] and sent_alone
    assert got == expected
    assert sent_shared == sent_alone
    entries = store.read_log(0, 1_000_000)
    assert counting.entries_read == len(entries)
    assert len(counting.decoded) == len(set(counting.decoded)) < len(entries)


def test_no_shared_log_when_the_setting_is_zero(store: RecorderEventStore) -> None:
    assert shared_log(store, entries=0) is store
    assert shared_log(store, entries=2) is not store
