"""Contract of the event store port, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from store_fixtures import (
    BACKENDS,
    TEST_TYPES,
    UPCASTERS,
    Backend,
    Blob,
    Noted,
    TitledV1,
    TitledV2,
    fresh_postgres_database,
)

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.factory import migrate, open_event_store, sqlite_path
from helios.adapters.store.recorder_store import PROBE_CHUNK
from helios.adapters.store.sqlite import open_sqlite_store
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    DuplicateInput,
    EventStore,
    StoreUnavailable,
    StreamAppend,
    StreamIndex,
    Tracking,
)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """One fresh database per test run; each backend takes its own schema in it."""
    yield from fresh_postgres_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    pg_url = None
    if request.param == "postgres":
        pg_url = request.getfixturevalue("postgres_database_url")
    made = Backend(request.param, tmp=tmp_path, pg_url=pg_url)
    yield made
    made.dispose()


@pytest.fixture
def store(backend: Backend) -> EventStore:
    return backend.open()


def notes(*texts: str) -> tuple[Noted, ...]:
    return tuple(Noted(text=text, n=i) for i, text in enumerate(texts))


def append(
    stream: uuid.UUID, expected: int, *events: object, keys: tuple[str, ...] = ()
) -> AppendBatch:
    return AppendBatch(
        streams=(StreamAppend(stream_id=stream, expected_version=expected, events=events),),
        input_keys=keys,
    )


def log_of(store: EventStore) -> list[tuple[uuid.UUID, int, object]]:
    return [(e.stream_id, e.version, e.event) for e in store.read_log(0, 10_000)]


def test_an_empty_store_has_no_positions_streams_or_inputs(store: EventStore) -> None:
    """An empty store reads as empty everywhere."""
    assert store.max_position() == 0
    assert store.read_log(0, 10) == []
    assert store.read_stream(uuid.uuid4()) == []
    assert store.tracked_position("projector") == 0
    assert not store.has_input("ingest/1")


def test_appended_events_are_read_back_in_version_order(store: EventStore) -> None:
    """Events get consecutive versions per stream and come back in order."""
    a, b = uuid.uuid4(), uuid.uuid4()
    batch = AppendBatch(
        streams=(
            StreamAppend(stream_id=a, expected_version=0, events=notes("a1", "a2")),
            StreamAppend(stream_id=b, expected_version=0, events=notes("b1")),
        )
    )
    last = store.append(batch)
    store.append(append(a, 2, Noted(text="a3")))

    assert [(r.version, r.event.text) for r in store.read_stream(a)] == [
        (1, "a1"),
        (2, "a2"),
        (3, "a3"),
    ]
    assert [r.name for r in store.read_stream(b)] == [Noted.NAME]  # type: ignore[attr-defined]
    assert [r.version for r in store.read_stream(a, after_version=1)] == [2, 3]
    assert last == store.read_log(0, 3)[-1].position
    assert store.max_position() > last


def test_the_store_tells_which_of_many_streams_hold_events(store: EventStore) -> None:
    """Asked about more streams than one query takes, it names exactly those with events
    (markers' streams are not confused with them)."""
    assert isinstance(store, StreamIndex)
    written = [uuid.uuid4() for _ in range(7)]
    store.append(
        AppendBatch(
            streams=tuple(
                StreamAppend(stream_id=s, expected_version=0, events=notes("x")) for s in written
            ),
            input_keys=("ingest/probe",),
        )
    )
    asked = [uuid.uuid4() for _ in range(PROBE_CHUNK + 3)]
    asked[1:1] = written[:3]
    asked.append(written[-1])
    assert store.existing_streams(asked) == {*written[:3], written[-1]}
    assert store.existing_streams([]) == set()


def test_a_large_batch_takes_consecutive_positions_and_returns_the_last(store: EventStore) -> None:
    """Every event of one append is at the positions after the log's end, in batch order."""
    store.append(append(uuid.uuid4(), 0, *notes("before")))
    head = store.max_position()
    streams = [uuid.uuid4() for _ in range(300)]
    batch = AppendBatch(
        streams=tuple(
            StreamAppend(stream_id=s, expected_version=0, events=notes("a", "b")) for s in streams
        )
    )
    last = store.append(batch)
    entries = store.read_log(head, 1000)
    assert [e.position for e in entries] == list(range(entries[0].position, last + 1))
    assert [(e.stream_id, e.version) for e in entries] == [(s, v) for s in streams for v in (1, 2)]
    assert last == store.max_position()


def test_a_stream_may_appear_twice_in_a_batch_with_contiguous_versions(store: EventStore) -> None:
    """Two appends to one stream in a batch chain their versions; a gap is refused."""
    s = uuid.uuid4()
    contiguous = AppendBatch(
        streams=(
            StreamAppend(stream_id=s, expected_version=0, events=notes("x")),
            StreamAppend(stream_id=s, expected_version=1, events=notes("y")),
        )
    )
    store.append(contiguous)
    assert [r.version for r in store.read_stream(s)] == [1, 2]
    gap = AppendBatch(
        streams=(
            StreamAppend(stream_id=s, expected_version=2, events=notes("z")),
            StreamAppend(stream_id=s, expected_version=5, events=notes("w")),
        )
    )
    with pytest.raises(ValueError, match="non-contiguous"):
        store.append(gap)


def test_a_stale_expected_version_rolls_back_the_whole_batch(store: EventStore) -> None:
    """A conflict on one stream writes nothing: no other stream, no marker, no tracking."""
    busy, other = uuid.uuid4(), uuid.uuid4()
    store.append(append(busy, 0, *notes("first")))
    before = log_of(store)
    batch = AppendBatch(
        streams=(
            StreamAppend(stream_id=other, expected_version=0, events=notes("o")),
            StreamAppend(stream_id=busy, expected_version=0, events=notes("again")),
        ),
        input_keys=("ingest/7",),
        tracking=Tracking(follower="router", position=3),
    )
    with pytest.raises(ConcurrencyConflict) as caught:
        store.append(batch)

    assert caught.value.stream_ids == (busy,)
    assert log_of(store) == before
    assert store.read_stream(other) == []
    assert not store.has_input("ingest/7")
    assert store.tracked_position("router") == 0


def test_expecting_a_version_ahead_of_the_stream_conflicts(store: EventStore) -> None:
    """Events must follow the stream's last version: a gap would break the unique key check."""
    s = uuid.uuid4()
    store.append(append(s, 0, *notes("one")))
    store.append(append(s, 1, *notes("two")))
    with pytest.raises(ConcurrencyConflict):
        store.append(append(s, 1, *notes("late")))
    assert [r.event.text for r in store.read_stream(s)] == ["one", "two"]


def test_a_redelivered_input_is_refused_and_changes_nothing(store: EventStore) -> None:
    """The second batch carrying an input key raises DuplicateInput and writes nothing."""
    s = uuid.uuid4()
    store.append(append(s, 0, *notes("n1"), keys=("ingest/a", "ingest/b")))
    assert store.has_input("ingest/a")
    assert store.has_input("ingest/b")
    before, position = log_of(store), store.max_position()

    with pytest.raises(DuplicateInput) as caught:
        store.append(append(uuid.uuid4(), 0, *notes("n2"), keys=("ingest/c", "ingest/b")))

    assert caught.value.keys == ("ingest/b",)
    assert log_of(store) == before
    assert store.max_position() == position
    assert not store.has_input("ingest/c")


def test_a_redelivery_is_reported_even_when_versions_also_conflict(store: EventStore) -> None:
    """A redelivered input wins over a version conflict: the message can just be deleted."""
    s = uuid.uuid4()
    store.append(append(s, 0, *notes("n1"), keys=("ingest/a",)))
    with pytest.raises(DuplicateInput):
        store.append(append(s, 0, *notes("n1"), keys=("ingest/a",)))


def test_the_log_is_paged_without_markers_in_increasing_positions(store: EventStore) -> None:
    """Paging by (after, limit) yields every domain event once, in order, never a marker."""
    streams = [uuid.uuid4() for _ in range(3)]
    for i in range(4):
        store.append(
            AppendBatch(
                streams=tuple(
                    StreamAppend(stream_id=s, expected_version=i, events=notes(f"{i}"))
                    for s in streams
                ),
                input_keys=(f"ingest/{i}/x", f"ingest/{i}/y"),
            )
        )
    pages, after = [], 0
    while page := store.read_log(after, 5):
        pages.append(page)
        after = page[-1].position
    entries = [e for page in pages for e in page]

    assert [len(p) for p in pages] == [5, 5, 2]
    assert len(entries) == 12
    assert all(isinstance(e.event, Noted) for e in entries)
    positions = [e.position for e in entries]
    assert positions == sorted(set(positions))
    assert [(e.stream_id, e.version) for e in entries[:3]] == [(s, 1) for s in streams]
    assert store.read_log(positions[-1], 5) == []


def test_a_run_of_markers_does_not_end_a_log_page(store: EventStore) -> None:
    """Markers occupying a whole page are skipped, not mistaken for the end of the log."""
    s = uuid.uuid4()
    keys = tuple(f"ingest/{i}" for i in range(6))
    store.append(append(s, 0, *notes("after markers"), keys=keys))
    page = store.read_log(0, 2)
    assert [e.event.text for e in page] == ["after markers"]


def test_entries_asked_for_encoded_carry_the_stored_bytes(backend: Backend) -> None:
    """``encoded`` leaves the chosen names undecoded: the exact bytes the codec wrote, under
    the stored name (an old schema version stays old), and decodes everything else."""
    store = backend.open(upcasters=UPCASTERS)
    s = uuid.uuid4()
    body = bytes(range(256)) * 40  # large enough to be stored compressed
    events = (Noted(text="kept"), Blob(body=body, tags=("t",)), TitledV1(title="old"))
    store.append(append(s, 0, *events))
    codec = EventCodec(types=TEST_TYPES)

    plain = store.read_log(0, 10)
    left = store.read_log(0, 10, encoded=lambda name: name != Noted.NAME)  # type: ignore[attr-defined]

    assert [e.encoded for e in plain] == [None, None, None]
    assert left[0].event == Noted(text="kept") and left[0].encoded is None
    for entry, original in zip(left[1:], events[1:], strict=True):
        assert entry.event is None
        assert (entry.name, entry.encoded) == codec.encode(original)
    assert [(e.position, e.stream_id, e.version) for e in left] == [
        (e.position, e.stream_id, e.version) for e in plain
    ]
    assert plain[2].name == TitledV2.NAME  # type: ignore[attr-defined]


def test_tracking_records_a_follower_position_exactly_once(store: EventStore) -> None:
    """A position is recorded with the batch; the same or an older one conflicts."""
    s = uuid.uuid4()
    tracked = AppendBatch(
        streams=(StreamAppend(stream_id=s, expected_version=0, events=notes("t")),),
        tracking=Tracking(follower="projector", position=5),
    )
    store.append(tracked)
    assert store.tracked_position("projector") == 5
    assert store.tracked_position("notifier") == 0

    before = log_of(store)
    for stale in (5, 4):
        replay = AppendBatch(
            streams=(StreamAppend(stream_id=s, expected_version=1, events=notes("dup")),),
            tracking=Tracking(follower="projector", position=stale),
        )
        with pytest.raises(ConcurrencyConflict) as caught:
            store.append(replay)
        assert caught.value.follower == "projector"
    assert log_of(store) == before

    store.append(AppendBatch(tracking=Tracking(follower="projector", position=9)))
    assert store.tracked_position("projector") == 9


def test_old_event_versions_are_upcast_on_read(backend: Backend) -> None:
    """Events stored under an old name read back as the current class via the upcaster."""
    s = uuid.uuid4()
    backend.open().append(append(s, 0, TitledV1(title="disk full")))
    reader = backend.open(upcasters=UPCASTERS)

    [recorded] = reader.read_stream(s)
    [entry] = reader.read_log(0, 10)
    expected = TitledV2(headline="disk full", severity="unknown")
    assert (recorded.name, recorded.event) == (TitledV2.NAME, expected)  # type: ignore[attr-defined]
    assert entry.event == expected


def test_large_bytes_and_unicode_round_trip(store: EventStore) -> None:
    """Envelope-sized bodies (compressed in storage) and any unicode come back unchanged."""
    s = uuid.uuid4()
    body = bytes(range(256)) * 800 + os.urandom(4096)
    text = "ディスク 💥 naïve \u0000 end"
    store.append(append(s, 0, Blob(body=body, tags=(text,)), Noted(text=text)))
    first, second = store.read_stream(s)
    assert first.event == Blob(body=body, tags=(text,))
    assert second.event == Noted(text=text)


def test_concurrent_appends_from_threads_all_land(store: EventStore) -> None:
    """The store is shared by threads (async callers run it in a worker thread)."""
    streams = [uuid.uuid4() for _ in range(4)]

    def write(stream: uuid.UUID) -> None:
        for version in range(5):
            store.append(
                append(stream, version, Noted(text=str(version)), keys=(f"{stream}/{version}",))
            )

    threads = [threading.Thread(target=write, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.read_log(0, 100)) == 20
    assert all(len(store.read_stream(s)) == 5 for s in streams)


def test_codec_compresses_only_large_payloads() -> None:
    """Small events stay plain; big ones are zstd-compressed behind a flag byte."""
    codec = EventCodec(types=TEST_TYPES)
    _, small = codec.encode(Noted(text="x"))
    name, big = codec.encode(Blob(body=b"a" * 100_000))
    assert small[:1] == b"\x00"
    assert big[:1] == b"\x01"
    assert len(big) < 1_000
    assert codec.decode(name, big) == (name, Blob(body=b"a" * 100_000))


def test_sqlite_production_open_without_tables_is_unavailable(tmp_path: Path) -> None:
    """Opening without creating tables reports the missing schema as StoreUnavailable."""
    store = open_sqlite_store(
        tmp_path / "empty.db", codec=EventCodec(types=TEST_TYPES), create=False
    )
    with pytest.raises(StoreUnavailable):
        store.max_position()
    store.close()


def test_sqlite_urls_name_files(tmp_path: Path) -> None:
    """sqlite:///abs/path is absolute; the file store opens, migrates and closes by URL."""
    url = f"sqlite:///{tmp_path}/by-url.db".replace("////", "///")
    assert sqlite_path(url) == f"{tmp_path}/by-url.db"
    migrate(url)
    store = open_event_store(url, types=TEST_TYPES)
    store.append(append(uuid.uuid4(), 0, Noted(text="x")))
    assert store.max_position() == 1
    store.close()


def test_postgres_open_requires_a_migrated_schema(postgres_database_url: str) -> None:
    """The production open path never creates tables; a missing schema is reported."""
    with pytest.raises(StoreUnavailable, match="migrate"):
        open_event_store(postgres_database_url + "?schema=nowhere&pool_size=1", types=TEST_TYPES)


def test_postgres_server_down_is_unavailable() -> None:
    """A refused connection surfaces as StoreUnavailable, not a driver error."""
    with pytest.raises(StoreUnavailable):
        open_event_store("postgresql://helios@127.0.0.1:9/nowhere?connect_timeout=1&pool_size=1")


STREAMS = tuple(uuid.UUID(int=i + 1) for i in range(3))
KEYS = tuple(f"ingest/{i}" for i in range(4))

stream_appends = st.lists(
    st.tuples(
        st.sampled_from(STREAMS),
        # Offset from the current version: mostly right, sometimes stale. Never ahead: callers
        # only expect versions they have read (see StreamAppend), and adapters do not detect a
        # gap left by an expectation ahead of the stream.
        st.sampled_from((0, 0, 0, -1, -2)),
        st.lists(st.text(max_size=6), min_size=1, max_size=3),
    ),
    max_size=3,
    unique_by=lambda item: item[0],
)
trackings = st.none() | st.builds(
    Tracking, follower=st.sampled_from(("projector", "notifier")), position=st.integers(1, 12)
)


def outcome_of(store: EventStore, batch: AppendBatch) -> tuple[object, ...]:
    try:
        store.append(batch)
    except DuplicateInput as error:
        return ("duplicate", frozenset(error.keys))
    except ConcurrencyConflict as error:
        return ("conflict", frozenset(error.stream_ids), error.follower)
    return ("ok",)


def reads_of(store: EventStore) -> tuple[object, ...]:
    log = store.read_log(0, 1_000)
    positions = [entry.position for entry in log]
    assert positions == sorted(set(positions)), "log positions must increase"
    return (
        [(e.stream_id, e.version, e.name, e.event) for e in log],
        [[(r.version, r.event) for r in store.read_stream(s)] for s in STREAMS],
        [store.tracked_position(f) for f in ("projector", "notifier")],
        [store.has_input(k) for k in KEYS],
    )


class StoreAgreement(RuleBasedStateMachine):
    """The same random appends, conflicts and redeliveries applied to every adapter."""

    kinds: tuple[str, ...] = ()
    tmp: Path
    pg_url: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.backends = [Backend(k, tmp=self.tmp, pg_url=self.pg_url) for k in self.kinds]
        self.stores = [backend.open() for backend in self.backends]

    @rule(
        appends=stream_appends,
        keys=st.lists(st.sampled_from(KEYS), unique=True, max_size=2),
        tracking=trackings,
    )
    def append_batch(
        self,
        appends: list[tuple[uuid.UUID, int, list[str]]],
        keys: list[str],
        tracking: Tracking | None = None,
    ) -> None:
        reference = self.stores[0]
        batch = AppendBatch(
            streams=tuple(
                StreamAppend(
                    stream_id=stream,
                    expected_version=max(0, len(reference.read_stream(stream)) + offset),
                    events=notes(*texts),
                )
                for stream, offset, texts in appends
            ),
            input_keys=tuple(keys),
            tracking=tracking,
        )
        outcomes = {
            kind: outcome_of(s, batch) for kind, s in zip(self.kinds, self.stores, strict=True)
        }
        assert len(set(outcomes.values())) == 1, outcomes

    @invariant()
    def every_read_agrees(self) -> None:
        first, *others = (reads_of(store) for store in self.stores)
        for kind, reads in zip(self.kinds[1:], others, strict=True):
            assert reads == first, f"{kind} disagrees with {self.kinds[0]}"

    def teardown(self) -> None:
        for backend in self.backends:
            backend.dispose()


def test_all_adapters_agree_on_every_read(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Database agreement: memory, SQLite and PostgreSQL (when available) never diverge."""
    kinds: tuple[str, ...] = ("memory", "sqlite")
    pg_url = None
    if os.environ.get("HELIOS_TEST_DATABASE_URL") or os.environ.get("HELIOS_REQUIRE_SERVICES"):
        pg_url = request.getfixturevalue("postgres_database_url")
        kinds += ("postgres",)

    class Agreement(StoreAgreement):
        pass

    Agreement.kinds, Agreement.tmp, Agreement.pg_url = (
        kinds,
        tmp_path_factory.mktemp("agree"),
        pg_url,
    )
    run_state_machine_as_test(
        Agreement,
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
