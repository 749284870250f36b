"""The recent log shared by the followers of one process, over every store adapter: each
entry is read from the store once, each entry decoded at most once, and a follower gets exactly
what the store itself would return at that moment."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from store_fixtures import BACKENDS, Backend, Blob, Noted, fresh_postgres_database

from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.shared_log import SharedLog
from helios.ports.event_store import AppendBatch, EventStore, LogEntry, StreamAppend

BLOB = Blob.NAME  # type: ignore[attr-defined]


class CountingLog:
    """The real store, counting what ``SharedLogPages`` asks of it."""

    def __init__(self, store: EventStore) -> None:
        assert isinstance(store, RecorderEventStore)
        self._store = store
        self.reads: list[tuple[int, int]] = []
        self.entries_read = 0
        self.decoded: list[int] = []

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        page = self._store.read_log(after, limit, encoded=encoded)
        self.reads.append((after, limit))
        self.entries_read += len(page)
        return page

    def decode_entry(self, entry: LogEntry) -> LogEntry:
        self.decoded.append(entry.position)
        return self._store.decode_entry(entry)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    yield from fresh_postgres_database()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    pg_url = None
    if request.param == "postgres":
        pg_url = request.getfixturevalue("postgres_database_url")
    backend = Backend(request.param, tmp=tmp_path, pg_url=pg_url)
    yield backend.open()
    backend.dispose()


def write(store: EventStore, count: int, *, key: str) -> None:
    """``count`` events on a new stream, a blob every third, with an input marker."""
    events = [
        Blob(body=bytes([i % 256]) * 10) if i % 3 == 0 else Noted(text=f"{key}-{i}", n=i)
        for i in range(count)
    ]
    stream = StreamAppend(stream_id=uuid.uuid4(), expected_version=0, events=tuple(events))
    store.append(AppendBatch(streams=(stream,), input_keys=(f"ingest/{key}",)))


def pages_of(log: object, limit: int, encoded: Callable[[str], bool] | None = None) -> list:
    pages, after = [], 0
    while page := log.read_log(after, limit, encoded=encoded):  # type: ignore[attr-defined]
        pages.append(list(page))
        after = page[-1].position
    return pages


def test_followers_get_the_stores_pages_read_once_and_decoded_at_most_once(
    store: EventStore,
) -> None:
    write(store, 23, key="a")
    counting = CountingLog(store)
    shared = SharedLog(counting, entries=100)

    decoding = pages_of(shared, 5)
    skipping = pages_of(shared, 5, encoded=lambda name: name == BLOB)
    again = pages_of(shared, 5)

    assert decoding == again == pages_of(store, 5)
    assert skipping == pages_of(store, 5, encoded=lambda name: name == BLOB)
    # Each entry came from the store once (the short last page is looked at again by each
    # reader for entries appended since; there are none).
    assert counting.entries_read == 23
    assert counting.reads.count((0, 5)) == 1
    assert sorted(counting.decoded) == sorted({e.position for p in decoding for e in p})


def test_a_follower_leaving_a_kind_encoded_does_not_pay_for_its_decoding(
    store: EventStore,
) -> None:
    write(store, 12, key="a")
    counting = CountingLog(store)
    shared = SharedLog(counting, entries=100)

    skipped = pages_of(shared, 100, encoded=lambda name: name == BLOB)
    blobs = {e.position for p in skipped for e in p if e.name == BLOB}
    assert blobs and not blobs & set(counting.decoded)
    assert all(e.event is None and e.encoded for p in skipped for e in p if e.name == BLOB)
    decoded_once = list(counting.decoded)

    pages_of(shared, 100)
    pages_of(shared, 100)
    assert sorted(counting.decoded) == sorted(decoded_once + sorted(blobs))


def test_a_page_read_at_the_end_of_the_log_is_completed_with_entries_appended_since(
    store: EventStore,
) -> None:
    write(store, 3, key="a")
    shared = SharedLog(CountingLog(store), entries=100)
    first = shared.read_log(0, 10)
    assert len(first) == 3

    write(store, 12, key="b")
    later = shared.read_log(0, 10)

    assert later == store.read_log(0, 10)
    assert len(later) == 10 and later[:3] == first


def test_an_empty_page_is_not_served_once_the_log_has_grown(store: EventStore) -> None:
    shared = SharedLog(CountingLog(store), entries=100)
    assert shared.read_log(0, 4) == []
    write(store, 2, key="a")
    assert shared.read_log(0, 4) == store.read_log(0, 4)
    assert len(shared.read_log(0, 4)) == 2


def test_followers_whose_pages_end_at_different_positions_share_the_entries(
    store: EventStore,
) -> None:
    write(store, 20, key="a")
    counting = CountingLog(store)
    shared = SharedLog(counting, entries=100)

    assert pages_of(shared, 7) == pages_of(store, 7)
    assert pages_of(shared, 5) == pages_of(store, 5)
    assert pages_of(shared, 3, encoded=lambda name: name == BLOB) == pages_of(
        store, 3, encoded=lambda name: name == BLOB
    )
    assert counting.entries_read == 20


def test_a_follower_behind_the_kept_entries_reads_the_store_and_the_window_stays_bounded(
    store: EventStore,
) -> None:
    write(store, 30, key="a")
    counting = CountingLog(store)
    shared = SharedLog(counting, entries=10)
    everything = pages_of(shared, 5)
    assert counting.entries_read == 30

    # Again from the start: the pages before the ten entries kept come from the store.
    assert pages_of(shared, 5) == everything
    assert counting.entries_read == 50
    positions = [e.position for page in everything for e in page]
    kept = positions[-11]  # the ten entries after it are the ones kept
    assert shared.read_log(kept, 5) == store.read_log(kept, 5)
    assert shared.read_log(positions[-6], 5) == store.read_log(positions[-6], 5)
    assert counting.entries_read == 50
    assert shared.read_log(positions[-12], 5) == store.read_log(positions[-12], 5)
    assert counting.entries_read == 55


def test_a_forgotten_window_holds_nothing_and_pages_stay_the_stores(store: EventStore) -> None:
    write(store, 40, key="a")
    counting = CountingLog(store)
    log = SharedLog(counting, entries=100)  # type: ignore[arg-type]
    first = pages_of(log, 7)
    assert log.kept == 40
    log.forget()
    assert log.kept == 0
    write(store, 5, key="b")
    again = pages_of(log, 7)
    assert [e.position for p in again for e in p] == [
        e.position for p in pages_of(store, 7) for e in p
    ]
    assert [e.position for p in first for e in p] == [e.position for p in again for e in p][:40]
    tail = log.read_log(again[-1][-1].position, 7)
    assert list(tail) == []
