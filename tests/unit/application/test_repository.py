"""The repository: load → decide → append with one retry policy and one cache, over every store.

Concurrent writers are other repositories (their own caches) on the same store, as other
processes would be.
"""

from __future__ import annotations

import math
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contract"))
from store_fixtures import (  # noqa: F401  (fixtures are registered by being imported)
    event_store,
    event_store_url,
)

from helios.apps.application.repository import (
    ACCESS,
    ALERT,
    INCIDENT_GROUP,
    KEY_INDEX,
    RULESET,
    SILENCES,
    TENANT,
    USER_INDEX,
    Repository,
    RetryPolicy,
    StateCache,
    Step,
)
from helios.domain import ruleset_stream, silence
from helios.domain.errors import CommandRejected
from helios.domain.ruleset import DEFAULT_RULESET
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    EventStore,
    RecordedEvent,
)

T0 = 1_800_000_000_000


def publish_next(state: ruleset_stream.TenantRules) -> tuple[Any, ...]:
    """Publish the version after the one in force: right only against the current state."""
    ruleset = attrs.evolve(DEFAULT_RULESET, version=state.current.version + 1)
    return ruleset_stream.decide(ruleset_stream.PublishRuleset(ruleset=ruleset, at=T0), state)


def no_wait(attempt: int) -> None:
    pass


class CountingStore:
    """The real store, noting every ``read_stream`` (stream, after_version) and every append."""

    def __init__(self, store: EventStore, *, conflict_always: bool = False) -> None:
        self._store = store
        self._conflict_always = conflict_always
        self.reads: list[tuple[uuid.UUID, int]] = []
        self.appends = 0

    def read_stream(self, stream_id: uuid.UUID, after_version: int = 0) -> Sequence[RecordedEvent]:
        self.reads.append((stream_id, after_version))
        return self._store.read_stream(stream_id, after_version)

    def append(self, batch: AppendBatch) -> int:
        self.appends += 1
        if self._conflict_always:
            raise ConcurrencyConflict(stream_ids=[s.stream_id for s in batch.streams])
        return self._store.append(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_stream_ids_are_the_ones_existing_logs_were_written_with() -> None:
    """Each kind names its stream exactly as before the repository existed."""
    made = [
        ALERT.stream(("acme", "db-1/disk")),
        INCIDENT_GROUP.stream(("acme", "checkout")),
        RULESET.stream("acme"),
        SILENCES.stream("acme"),
        TENANT.stream("acme"),
        KEY_INDEX.stream(None),
        ACCESS.stream("acme"),
        USER_INDEX.stream(None),
    ]
    assert [str(stream) for stream in made] == [
        "044201e1-d1bf-5b2b-958e-b6378017c59c",
        "243f36e6-767c-50a4-bc95-c40eb7e8d94d",
        "f5e6d7f1-9f43-5b60-8dc8-35c8653e46c9",
        "b54ce806-54d1-5d25-b291-625c31120ce9",
        "0c17fdf5-5fe8-5a17-b816-e71b81668279",
        "7c07194b-bfe2-52cf-89f8-11ded822db36",
        "36632a4b-f3fb-501f-9479-9bb0c8c936b8",
        "73b833c0-3299-576b-930d-3b9eca13e579",
    ]


def test_a_stream_never_written_loads_as_the_initial_state_at_version_0(store: EventStore) -> None:
    """Nothing recorded: the kind's initial state."""
    state, version = Repository(store).load(RULESET, "acme")
    assert (state, version) == (ruleset_stream.initial_state("acme"), 0)


def test_a_command_is_decided_again_against_what_a_concurrent_writer_appended(
    store: EventStore,
) -> None:
    """The other writer's append makes ours conflict; the command is decided again on the
    caught-up state, so neither publication is lost."""
    ours, theirs = Repository(store), Repository(store)
    ours.load(RULESET, "acme")
    seen: list[int] = []

    def decide(state: ruleset_stream.TenantRules) -> tuple[Any, ...]:
        seen.append(state.current.version)
        if len(seen) == 1:
            theirs.execute(RULESET, "acme", publish_next)  # lands between our load and append
        return publish_next(state)

    state, events = ours.execute(RULESET, "acme", decide)

    assert seen == [0, 1]
    assert state.current.version == 2 and len(events) == 1
    assert Repository(store).load(RULESET, "acme")[1] == 2


def test_concurrent_writers_in_threads_lose_no_command(store: EventStore) -> None:
    """Writers racing on one stream, each with its own cache: every command is recorded once."""
    writers, each = 4, 5
    failures: list[BaseException] = []

    def write() -> None:
        repository = Repository(store, retry=RetryPolicy(attempts=100))
        try:
            for _ in range(each):
                repository.execute(RULESET, "acme", publish_next)
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    state, version = Repository(store).load(RULESET, "acme")
    assert version == state.current.version == writers * each


def test_a_command_that_keeps_conflicting_gives_up_after_the_policy_attempts(
    store: EventStore,
) -> None:
    """Bounded: the last conflict is raised, after exactly ``attempts`` appends."""
    counting = CountingStore(store, conflict_always=True)
    repository = Repository(counting, retry=RetryPolicy(attempts=3, backoff=no_wait))  # type: ignore[arg-type]
    with pytest.raises(ConcurrencyConflict):
        repository.execute(RULESET, "acme", publish_next)
    assert counting.appends == 3


def test_a_refused_command_appends_nothing(store: EventStore) -> None:
    """The decider's refusal is the caller's answer; no retry, no event."""
    repository = Repository(store)

    def refuse(state: ruleset_stream.TenantRules) -> tuple[Any, ...]:
        raise CommandRejected("invalid ruleset", (("version", "must be 1"),))

    with pytest.raises(CommandRejected):
        repository.execute(RULESET, "acme", refuse)
    assert store.max_position() == 0


def test_steps_of_one_command_are_appended_together_or_not_at_all(store: EventStore) -> None:
    """A refusal in the second step leaves the first stream unwritten too."""
    repository = Repository(store)
    expire_unknown = silence.ExpireSilence(silence_id="nope", at=T0)
    steps = (
        Step(kind=RULESET, key="acme", decide=publish_next),
        Step(kind=SILENCES, key="acme", decide=lambda s: silence.decide(expire_unknown, s)),
    )
    with pytest.raises(CommandRejected):
        repository.execute_all(steps)
    assert Repository(store).load(RULESET, "acme")[1] == 0


def test_a_cached_state_is_caught_up_with_what_another_writer_appended(store: EventStore) -> None:
    """A load reads only the events after the cached version, and returns the current state."""
    counting = CountingStore(store)
    reader = Repository(counting)  # type: ignore[arg-type]
    writer = Repository(store)
    for _ in range(3):
        writer.execute(RULESET, "acme", publish_next)
    assert reader.load(RULESET, "acme")[1] == 3
    writer.execute(RULESET, "acme", publish_next)

    state, version = reader.load(RULESET, "acme")

    assert version == state.current.version == 4
    assert counting.reads[-1] == (RULESET.stream("acme"), 3)


def test_a_state_trusted_from_the_cache_is_refreshed_by_a_conflict(store: EventStore) -> None:
    """``max_age_s`` lets a stale state through until an append against it conflicts."""
    ours, theirs = Repository(store), Repository(store)
    ours.execute(RULESET, "acme", publish_next)
    theirs.execute(RULESET, "acme", publish_next)
    assert ours.load(RULESET, "acme", max_age_s=float("inf"))[1] == 1  # stale, as asked

    state, _ = ours.execute(RULESET, "acme", publish_next)

    assert state.current.version == 3
    assert ours.load(RULESET, "acme", max_age_s=float("inf"))[1] == 3


def test_a_cached_state_older_than_the_age_asked_for_is_read_again(store: EventStore) -> None:
    """``cached`` never reads; ``load`` catches up once the entry is older than ``max_age_s``."""
    now = [100.0]
    reader = Repository(store, monotonic=lambda: now[0])
    Repository(store).execute(RULESET, "acme", publish_next)
    assert reader.load(RULESET, "acme")[1] == 1
    Repository(store).execute(RULESET, "acme", publish_next)

    assert reader.cached(RULESET, "acme", max_age_s=5.0) is not None
    assert reader.load(RULESET, "acme", max_age_s=5.0)[1] == 1
    now[0] += 6.0
    assert reader.cached(RULESET, "acme", max_age_s=5.0) is None
    assert reader.load(RULESET, "acme", max_age_s=5.0)[1] == 2


def test_the_cache_holds_at_most_its_capacity_dropping_the_least_recently_used() -> None:
    """Bounded: the oldest unused stream goes first."""
    cache = StateCache(capacity=2)
    a, b, c = (uuid.uuid4() for _ in range(3))
    cache.put(a, "a", 1, 0.0)
    cache.put(b, "b", 1, 0.0)
    assert cache.get(a) is not None  # a is now the most recently used
    cache.put(c, "c", 1, 0.0)

    assert len(cache) == 2
    assert cache.get(b) is None
    assert cache.get(a) is not None and cache.get(c) is not None


def test_a_slower_reader_never_moves_a_cached_state_back() -> None:
    """Two threads catching up the same stream: the newer version stays."""
    cache = StateCache()
    stream = uuid.uuid4()
    cache.put(stream, "new", 5, 1.0)
    cache.put(stream, "old", 3, 2.0)
    cached = cache.get(stream)
    assert cached is not None and (cached.state, cached.version) == ("new", 5)


def test_a_repository_over_a_bounded_cache_still_loads_every_stream(store: EventStore) -> None:
    """Evicted states are read again from the store, whole."""
    repository = Repository(store, cache=StateCache(capacity=1))
    for tenant in ("a", "b", "c"):
        repository.execute(RULESET, tenant, publish_next)
    assert [repository.load(RULESET, t)[1] for t in ("a", "b", "c", "a")] == [1, 1, 1, 1]


def test_a_cached_entry_a_reader_holds_never_changes_under_it() -> None:
    """Another thread's put or staleness replaces the entry: a reader never sees the state of
    one version with the number of another."""
    cache = StateCache()
    stream = uuid.uuid4()
    cache.put(stream, "old", 1, 1.0)
    held = cache.get(stream)
    cache.put(stream, "new", 2, 2.0)
    cache.stale((stream,))
    assert held is not None and (held.state, held.version, held.checked_at) == ("old", 1, 1.0)
    now = cache.get(stream)
    assert now is not None and (now.state, now.version, now.checked_at) == ("new", 2, -math.inf)
