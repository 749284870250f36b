"""The idempotency contract, run against every adapter: in-process, SQLite file and Redis.

Redis runs against the server named by ``HELIOS_TEST_REDIS_URL`` (the shared ``redis_url``
fixture: skipped when unset, failed with ``HELIOS_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helios.adapters.memory.limits import InMemoryIdempotencyStore
from helios.adapters.redis.connection import connect
from helios.adapters.redis.idempotency import RedisIdempotencyStore
from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.ports.idempotency import (
    DAY_MS,
    Begin,
    IdempotencyStore,
    IdempotencyUnavailable,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)
from sqlite_locks import write_lock_held

TIMEOUT_S = 2.0
"""Generous for a loaded CI machine: these tests are about agreement, not the production
fail-open timeout (0.25 s), which the closed-port tests exercise."""

T0 = 1_767_225_600_000
LEASE_MS = 30_000
RESPONSE = StoredResponse(
    status=202,
    body=b'{"accepted": 1}\xff\x00',  # not UTF-8: bodies are stored as bytes, untouched
    headers=(("content-type", "application/json"), ("x-helios-ingest-id", "in-1")),
)

StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Builds stores of one adapter with the given retention and lease."""
    if request.param == "memory":
        yield lambda **settings: InMemoryIdempotencyStore(**{"lease_ms": LEASE_MS, **settings})
        return
    if request.param == "sqlite":
        opened: list[SqliteIdempotencyStore] = []

        def sqlite_store(**settings: int) -> SqliteIdempotencyStore:
            # Every store of a test shares one file, as the processes of `helios up` would.
            store = SqliteIdempotencyStore(
                path=tmp_path / "queue.db", **{"lease_ms": LEASE_MS, **settings}
            )
            opened.append(store)
            return store

        try:
            yield sqlite_store
        finally:
            for store in opened:
                await store.close()
        return
    client = connect(request.getfixturevalue("redis_url"), timeout_s=TIMEOUT_S)
    try:
        yield lambda **settings: RedisIdempotencyStore(client, **{"lease_ms": LEASE_MS, **settings})
    finally:
        await client.aclose()


@pytest.fixture
def store(make_store: StoreFactory) -> IdempotencyStore:
    return make_store()


def _key() -> str:
    return uuid.uuid4().hex


async def _begin(store: IdempotencyStore, key: str, fingerprint: str, now_ms: int = T0) -> Begin:
    return await store.begin(scope="tenant-a", key=key, fingerprint=fingerprint, now_ms=now_ms)


async def _complete(store: IdempotencyStore, key: str, fingerprint: str, now_ms: int = T0) -> None:
    await store.complete(
        scope="tenant-a", key=key, fingerprint=fingerprint, response=RESPONSE, now_ms=now_ms
    )


# --- explicit keys --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_first_request_with_a_key_starts(store: IdempotencyStore) -> None:
    """A key never seen is claimed by its first request."""
    assert await _begin(store, _key(), "fp-1") == Started()


@pytest.mark.anyio
async def test_a_repeat_while_the_first_runs_is_in_flight(store: IdempotencyStore) -> None:
    """The same key and body before completion: 409, not a second run."""
    key = _key()
    await _begin(store, key, "fp-1")
    assert await _begin(store, key, "fp-1", T0 + 5) == InFlight()


@pytest.mark.anyio
async def test_a_different_body_under_a_used_key_mismatches(store: IdempotencyStore) -> None:
    """A different body is a client error (422) whether the first is running or done."""
    key = _key()
    await _begin(store, key, "fp-1")
    assert await _begin(store, key, "fp-2") == Mismatch()
    await _complete(store, key, "fp-1")
    assert await _begin(store, key, "fp-2") == Mismatch()


@pytest.mark.anyio
async def test_a_completed_key_replays_the_stored_response_verbatim(
    store: IdempotencyStore,
) -> None:
    """Status, bytes of the body and headers in order come back unchanged, every time."""
    key = _key()
    await _begin(store, key, "fp-1")
    await _complete(store, key, "fp-1")
    for offset in (0, 1000, DAY_MS - 1):
        assert await _begin(store, key, "fp-1", T0 + offset) == Replay(RESPONSE)


@pytest.mark.anyio
async def test_an_abandoned_key_can_be_retried(store: IdempotencyStore) -> None:
    """After a failure the owner abandons; the client's retry starts afresh."""
    key = _key()
    await _begin(store, key, "fp-1")
    await store.abandon(scope="tenant-a", key=key)
    assert await _begin(store, key, "fp-1", T0 + 1) == Started()


@pytest.mark.anyio
async def test_abandon_after_complete_keeps_the_response(store: IdempotencyStore) -> None:
    """A late abandon must not reopen a key whose request was accepted."""
    key = _key()
    await _begin(store, key, "fp-1")
    await _complete(store, key, "fp-1")
    await store.abandon(scope="tenant-a", key=key)
    assert await _begin(store, key, "fp-1", T0 + 1) == Replay(RESPONSE)


@pytest.mark.anyio
async def test_abandoning_an_unknown_key_does_nothing(store: IdempotencyStore) -> None:
    """Abandon is safe to call on any failure path."""
    key = _key()
    await store.abandon(scope="tenant-a", key=key)
    assert await _begin(store, key, "fp-1") == Started()


@pytest.mark.anyio
async def test_an_in_flight_claim_lapses_after_its_lease(store: IdempotencyStore) -> None:
    """An owner that died without completing does not block the key forever."""
    key = _key()
    await _begin(store, key, "fp-1")
    assert await _begin(store, key, "fp-1", T0 + LEASE_MS - 1) == InFlight()
    assert await _begin(store, key, "fp-1", T0 + LEASE_MS) == Started()


@pytest.mark.anyio
async def test_a_completed_key_is_kept_for_the_retention_period(
    make_store: StoreFactory,
) -> None:
    """Replayed until retention ends after completion; a new request after that."""
    store = make_store(retention_ms=10_000)
    key = _key()
    await _begin(store, key, "fp-1")
    done_at = T0 + 2_000
    await _complete(store, key, "fp-1", done_at)
    assert await _begin(store, key, "fp-1", done_at + 9_999) == Replay(RESPONSE)
    assert await _begin(store, key, "fp-2", done_at + 10_000) == Started()


@pytest.mark.anyio
async def test_the_default_retention_is_a_day(store: IdempotencyStore) -> None:
    """Without configuration a key is remembered for 24 hours."""
    key = _key()
    await _begin(store, key, "fp-1")
    await _complete(store, key, "fp-1")
    assert await _begin(store, key, "fp-1", T0 + DAY_MS - 1) == Replay(RESPONSE)
    assert await _begin(store, key, "fp-1", T0 + DAY_MS) == Started()


@pytest.mark.anyio
async def test_complete_stands_even_if_the_claim_was_lost(store: IdempotencyStore) -> None:
    """A request that outlived its lease still records its response for retries."""
    key = _key()
    await _begin(store, key, "fp-1")
    await _complete(store, key, "fp-1", T0 + LEASE_MS * 3)
    assert await _begin(store, key, "fp-1", T0 + LEASE_MS * 3 + 1) == Replay(RESPONSE)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("first", "second"), [(("a:b", "c"), ("a", "b:c")), (("tenant-a", "k"), ("tenant-b", "k"))]
)
async def test_scopes_never_share_keys(
    store: IdempotencyStore, first: tuple[str, str], second: tuple[str, str]
) -> None:
    """The same key in two scopes, even when colons could blur them, is two keys."""
    for scope, key in (first, second):
        result = await store.begin(scope=scope, key=key, fingerprint="fp", now_ms=T0)
        assert result == Started()


@pytest.mark.anyio
async def test_concurrent_requests_with_one_key_start_exactly_once(
    store: IdempotencyStore,
) -> None:
    """Twenty simultaneous retries: one runs, nineteen are told it is in flight."""
    key = _key()
    results: list[Begin] = []

    async def one() -> None:
        results.append(await _begin(store, key, "fp-1"))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(one)
    assert results.count(Started()) == 1
    assert results.count(InFlight()) == 19


# --- content deduplication ------------------------------------------------------------------------


async def _seen(store: IdempotencyStore, at: int, fingerprint: str = "body-1",
                scope: str = "tenant-a") -> bool:  # fmt: skip
    return await store.recently_seen(scope=scope, fingerprint=fingerprint, now_ms=at)


async def _remember(store: IdempotencyStore, at: int, fingerprint: str = "body-1",
                    scope: str = "tenant-a", window_ms: int = 60_000) -> None:  # fmt: skip
    await store.remember_seen(scope=scope, fingerprint=fingerprint, window_ms=window_ms, now_ms=at)


@pytest.mark.anyio
async def test_asking_about_a_fingerprint_never_remembers_it(store: IdempotencyStore) -> None:
    """A request whose enqueue failed only asked: its retry is not a duplicate."""
    assert await _seen(store, T0) is False
    assert await _seen(store, T0 + 1) is False


@pytest.mark.anyio
async def test_a_remembered_fingerprint_is_seen_until_its_window_ends(
    store: IdempotencyStore,
) -> None:
    """Seen within the window of its remembering, new again after it; per fingerprint, per scope."""
    await _remember(store, T0)
    assert await _seen(store, T0) is True
    assert await _seen(store, T0 + 59_999) is True
    assert await _seen(store, T0 + 60_000) is False
    assert await _seen(store, T0 + 1, fingerprint="body-2") is False
    assert await _seen(store, T0 + 1, scope="tenant-b") is False
    await _remember(store, T0 + 60_000)
    assert await _seen(store, T0 + 60_001) is True


@pytest.mark.anyio
async def test_repeats_do_not_extend_the_window(store: IdempotencyStore) -> None:
    """A source resending every second is still let through once per window."""
    admitted = []
    for second in range(25):
        now = T0 + second * 1000
        new = not await _seen(store, now, fingerprint="body")
        admitted.append(new)
        # Remembering again within the window (a racing twin was enqueued too) changes nothing.
        await _remember(store, now, fingerprint="body", window_ms=10_000)
    assert [i for i, new in enumerate(admitted) if new] == [0, 10, 20]


@pytest.mark.anyio
async def test_an_empty_window_is_refused(store: IdempotencyStore) -> None:
    """A window of zero would make every body new: a configuration bug."""
    with pytest.raises(ValueError, match="window_ms"):
        await store.remember_seen(scope="s", fingerprint="f", window_ms=0, now_ms=T0)


# --- the durable adapters -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
async def reopen(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], IdempotencyStore]]:
    """Opens a new store over the same data each call: a restarted process's store."""
    if request.param == "sqlite":
        opened: list[SqliteIdempotencyStore] = []

        def sqlite_store() -> IdempotencyStore:
            opened.append(SqliteIdempotencyStore(path=tmp_path / "queue.db"))
            return opened[-1]

        try:
            yield sqlite_store
        finally:
            for store in opened:
                await store.close()
        return
    url = request.getfixturevalue("redis_url")
    clients = []

    def redis_store() -> IdempotencyStore:
        clients.append(connect(url, timeout_s=TIMEOUT_S))
        return RedisIdempotencyStore(clients[-1])

    try:
        yield redis_store
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.anyio
async def test_keys_and_fingerprints_outlive_the_store_that_wrote_them(
    reopen: Callable[[], IdempotencyStore],
) -> None:
    """A restarted process replays a key's answer, and still knows a used fingerprint."""
    first = reopen()
    key = _key()
    await _begin(first, key, "fp-1")
    await _complete(first, key, "fp-1")
    await first.begin(scope="tenant-a", key="in-flight", fingerprint="fp-1", now_ms=T0)
    await _remember(first, T0, fingerprint="sig-1")
    if isinstance(first, SqliteIdempotencyStore):
        await first.close()
    second = reopen()
    assert await _begin(second, key, "fp-1", T0 + 1) == Replay(RESPONSE)
    assert await _begin(second, key, "fp-2", T0 + 1) == Mismatch()
    assert await _begin(second, "in-flight", "fp-1", T0 + 1) == InFlight()
    assert await _seen(second, T0 + 1, fingerprint="sig-1") is True


@pytest.mark.anyio
async def test_two_sqlite_stores_on_one_file_start_a_key_exactly_once(tmp_path: Path) -> None:
    """Two connections (two processes of `helios up`) racing on one key: one starts it."""
    stores = [SqliteIdempotencyStore(path=tmp_path / "queue.db") for _ in range(2)]
    results: list[Begin] = []

    async def one(store: IdempotencyStore) -> None:
        results.append(await _begin(store, "k", "fp-1"))

    try:
        async with anyio.create_task_group() as group:
            for number in range(20):
                group.start_soon(one, stores[number % 2])
    finally:
        for store in stores:
            await store.close()
    assert results.count(Started()) == 1
    assert results.count(InFlight()) == 19


@pytest.mark.anyio
async def test_a_sqlite_store_opens_a_fresh_file_while_another_process_creates_it(
    tmp_path: Path,
) -> None:
    """Switching a fresh file to WAL waits for another opener's write lock, like any write."""
    path = tmp_path / "queue.db"
    with write_lock_held(path, for_s=0.5):
        async with SqliteIdempotencyStore(path=path, busy_timeout_s=30) as store:
            assert await _begin(store, "k", "fp-1") == Started()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.anyio
async def test_the_sqlite_store_sweeps_expired_rows(tmp_path: Path) -> None:
    """Keys and fingerprints past their expiry are deleted from the file, live ones are kept."""
    path = tmp_path / "queue.db"
    async with SqliteIdempotencyStore(path=path, retention_ms=10_000, lease_ms=5_000) as store:
        await _begin(store, "done", "fp")
        await _complete(store, "done", "fp")
        await _begin(store, "abandoned-by-a-crash", "fp")
        await _remember(store, T0, fingerprint="old", window_ms=1_000)
        await _remember(store, T0 + 59_000, fingerprint="young", window_ms=10_000)
        await _begin(store, "later", "fp", T0 + 60_000)  # a write a minute on sweeps
    with sqlite3.connect(path) as conn:
        keys = sorted(row[0] for row in conn.execute("SELECT key FROM idempotency_keys"))
        seen = sorted(row[0] for row in conn.execute("SELECT fingerprint FROM idempotency_seen"))
    assert keys == ["later"]
    assert seen == ["young"]


@pytest.mark.anyio
async def test_an_unusable_sqlite_file_raises_idempotency_unavailable(tmp_path: Path) -> None:
    """A file that cannot be opened is reported in port terms (API: 503 or fail open)."""
    store = SqliteIdempotencyStore(path=tmp_path / "missing-dir" / "queue.db")
    try:
        with pytest.raises(IdempotencyUnavailable):
            await store.begin(scope="s", key="k", fingerprint="f", now_ms=T0)
        with pytest.raises(IdempotencyUnavailable):
            await store.recently_seen(scope="s", fingerprint="f", now_ms=T0)
        with pytest.raises(IdempotencyUnavailable):
            await store.remember_seen(scope="s", fingerprint="f", window_ms=1, now_ms=T0)
    finally:
        await store.close()


# --- an unreachable Redis ------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_an_unreachable_redis_raises_idempotency_unavailable() -> None:
    """Every operation says, in port terms, that the store is down (API: 503 or fail open)."""
    client = connect(f"redis://127.0.0.1:{_closed_port()}/0")
    store = RedisIdempotencyStore(client)
    try:
        with anyio.fail_after(5):
            with pytest.raises(IdempotencyUnavailable):
                await store.begin(scope="s", key="k", fingerprint="f", now_ms=T0)
            with pytest.raises(IdempotencyUnavailable):
                await store.complete(scope="s", key="k", fingerprint="f", response=RESPONSE,
                                     now_ms=T0)  # fmt: skip
            with pytest.raises(IdempotencyUnavailable):
                await store.abandon(scope="s", key="k")
            with pytest.raises(IdempotencyUnavailable):
                await store.recently_seen(scope="s", fingerprint="f", now_ms=T0)
            with pytest.raises(IdempotencyUnavailable):
                await store.remember_seen(scope="s", fingerprint="f", window_ms=1, now_ms=T0)
    finally:
        await client.aclose()


# --- the adapters agree -----------------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["begin", "complete", "abandon", "seen", "remember"]),
        st.sampled_from(["k1", "k2"]),
        st.sampled_from(["fp-1", "fp-2"]),
        # Gaps equal to the window, the lease and the retention land exactly on expiry edges.
        st.one_of(st.sampled_from([0, 5_000, 10_000, 30_000]), st.integers(0, 20_000)),
    ),
    min_size=1,
    max_size=30,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
@pytest.mark.anyio
async def test_memory_sqlite_and_redis_stores_agree_on_every_answer(
    redis_url: str, tmp_path: Path, operations: list[tuple[str, str, str, int]]
) -> None:
    """Any sequence of operations gets the same answers from every adapter."""
    client = connect(redis_url, timeout_s=TIMEOUT_S)
    scope = uuid.uuid4().hex  # a fresh scope per example: the Redis database is not flushed
    sqlite = SqliteIdempotencyStore(
        path=tmp_path / f"{scope}.db", retention_ms=30_000, lease_ms=10_000
    )
    stores: list[IdempotencyStore] = [
        InMemoryIdempotencyStore(retention_ms=30_000, lease_ms=10_000),
        sqlite,
        RedisIdempotencyStore(client, retention_ms=30_000, lease_ms=10_000),
    ]
    try:
        now = T0
        for operation, key, fingerprint, gap_ms in operations:
            now += gap_ms
            answers: list[object] = []
            for store in stores:
                match operation:
                    case "begin":
                        answers.append(
                            await store.begin(
                                scope=scope, key=key, fingerprint=fingerprint, now_ms=now
                            )
                        )
                    case "complete":
                        answers.append(
                            await store.complete(
                                scope=scope,
                                key=key,
                                fingerprint=fingerprint,
                                response=RESPONSE,
                                now_ms=now,
                            )
                        )
                    case "abandon":
                        answers.append(await store.abandon(scope=scope, key=key))
                    case "seen":
                        answers.append(
                            await store.recently_seen(
                                scope=scope, fingerprint=fingerprint, now_ms=now
                            )
                        )
                    case _:
                        answers.append(
                            await store.remember_seen(
                                scope=scope, fingerprint=fingerprint, window_ms=5_000, now_ms=now
                            )
                        )
            assert answers[0] == answers[1] == answers[2], (operation, key, fingerprint, now - T0)
    finally:
        await sqlite.close()
        await client.aclose()
