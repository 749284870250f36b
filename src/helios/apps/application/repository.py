"""The repository: load → decide → append for every aggregate, with one retry policy and one
cache.

An aggregate is described by its ``Kind``: how the stream id is made from its key, its initial
state and its evolve (fold) function. ``Repository.load`` gives a stream's current state and
version; ``Repository.execute`` decides a command against it and appends what was decided with
the version as the expectation. A concurrent writer makes the append conflict; the stream is
then caught up and the command decided again, a bounded number of times.

The cache keeps recently used states with their versions. A cached state is only a starting
point: a load reads the events recorded after its version (unless the caller accepts a state
checked at most ``max_age_s`` ago), and an append made against it conflicts when it is stale,
which marks it for catching up. Correctness never depends on it.
"""

from __future__ import annotations

import functools
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import attrs
import structlog

from helios.domain import (
    access,
    alert,
    flags,
    incident,
    key_index,
    reports,
    ruleset_stream,
    silence,
    tenancy,
    user_index,
)
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    EventStore,
    EventStoreError,
    StreamAppend,
    StreamIndex,
)
from helios.ports.snapshots import Snapshot, SnapshotStore, SnapshotUnreadable

K = TypeVar("K")
S = TypeVar("S")
T = TypeVar("T")

SNAPSHOT_EVERY = 100
"""A state is snapshotted each time its stream crosses a multiple of this many events."""
SNAPSHOT_KEEP = 2
"""Snapshots kept per stream (the latest ones); older ones are pruned as new ones are written."""
CACHE_CAPACITY = 20_000
"""States a repository keeps by default (``HELIOS_STATE_CACHE`` for the ingest worker's): a
state not kept is loaded from its latest snapshot and fewer than ``SNAPSHOT_EVERY`` events."""

_log = structlog.get_logger(__name__)


# --------------------------------------------------------------------------- kinds


@attrs.frozen(kw_only=True)
class Kind(Generic[K, S]):
    """What the repository needs to know of an aggregate.

    ``snapshot_type`` is set for the aggregates whose streams grow without end (alerts,
    incident groups): their cold loads start from a snapshot, in the form ``snapshot_form``
    keeps of a state.
    """

    name: str
    stream: Callable[[K], uuid.UUID]
    initial: Callable[[K], S]
    evolve: Callable[[S, Any], S]
    snapshot_type: type[S] | None = None
    snapshot_form: Callable[[S], S] | None = None


TENANT: Kind[str, tenancy.Tenant] = Kind(
    name="tenant",
    stream=tenancy.tenant_stream_id,
    initial=tenancy.initial_state,
    evolve=tenancy.evolve,
)
"""A tenant and its integrations, by tenant id."""

KEY_INDEX: Kind[None, key_index.KeyIndex] = Kind(
    name="key-index",
    stream=lambda _: key_index.STREAM,
    initial=lambda _: key_index.KeyIndex(),
    evolve=key_index.evolve,
)
"""Every routing-key hash registered (one stream: the key is None)."""

ACCESS: Kind[str, access.AccessDirectory] = Kind(
    name="access",
    stream=access.access_stream_id,
    initial=access.initial_state,
    evolve=access.evolve,
)
"""A tenant's users and tokens, by tenant id."""

USER_INDEX: Kind[None, user_index.UserIndex] = Kind(
    name="user-index",
    stream=lambda _: user_index.STREAM,
    initial=lambda _: user_index.UserIndex(),
    evolve=user_index.evolve,
)
"""Which tenant each user id belongs to (one stream: the key is None)."""

FLAGS: Kind[str, flags.TenantFlags] = Kind(
    name="flags",
    stream=flags.flags_stream_id,
    initial=flags.initial_state,
    evolve=flags.evolve,
)
"""A tenant's feature flags, by tenant id."""

RULESET: Kind[str, ruleset_stream.TenantRules] = Kind(
    name="ruleset",
    stream=ruleset_stream.ruleset_stream_id,
    initial=ruleset_stream.initial_state,
    evolve=ruleset_stream.evolve,
)
"""A tenant's published rulesets, by tenant id."""

SILENCES: Kind[str, silence.TenantSilences] = Kind(
    name="silences",
    stream=silence.silences_stream_id,
    initial=silence.initial_state,
    evolve=silence.evolve,
)
"""A tenant's silences, by tenant id."""

REPORTS: Kind[str, reports.TenantReports] = Kind(
    name="reports",
    stream=reports.reports_stream_id,
    initial=reports.initial_state,
    evolve=reports.evolve,
)
"""A tenant's issued weekly reports, by tenant id."""


# A batch asks for an alert's stream id several times (load, preload, versions, cache): the
# UUIDv5 (a SHA-1) is computed once per recent key. Bounded by what batches share, not by the
# open alerts: each key kept costs about 340 bytes besides the key (65,536 held 22 MB).
@functools.lru_cache(maxsize=1 << 14)
def _alert_stream(key: tuple[str, str]) -> uuid.UUID:
    return alert.alert_stream_id(*key)


def _initial_alert(key: tuple[str, str]) -> alert.AlertState:
    return alert.initial_state(*key)


@functools.lru_cache(maxsize=1 << 12)
def _group_stream(key: tuple[str, str]) -> uuid.UUID:
    return incident.group_stream_id(*key)


def _initial_group(key: tuple[str, str]) -> incident.IncidentGroup:
    return incident.initial_state(*key)


ALERT: Kind[tuple[str, str], alert.AlertState] = Kind(
    name="alert",
    stream=_alert_stream,
    initial=_initial_alert,
    evolve=alert.evolve,
    snapshot_type=alert.AlertState,
    # Not what an alert's runs let go of and still share with older states.
    snapshot_form=alert.trimmed,
)
"""An alert, by (tenant, dedup key)."""

INCIDENT_GROUP: Kind[tuple[str, str], incident.IncidentGroup] = Kind(
    name="incident-group",
    stream=_group_stream,
    initial=_initial_group,
    evolve=incident.evolve,
    snapshot_type=incident.IncidentGroup,
)
"""An incident group (its incidents one after another, with their notes), by (tenant, group
key)."""


# --------------------------------------------------------------------------- policies


def jittered_backoff(attempt: int) -> None:
    """Sleep a little, randomly, before retrying a conflicting append: two writers that keep
    colliding on the same streams must not retry in lock-step."""
    time.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often a conflicting append is decided again, and how long to wait in between."""

    attempts: int = attrs.field(default=25, validator=attrs.validators.ge(1))
    backoff: Callable[[int], None] = jittered_backoff


@attrs.frozen(kw_only=True)
class Snapshotting:
    """When loaded states are snapshotted: ``every`` events of their stream (0: never)."""

    every: int = attrs.field(default=SNAPSHOT_EVERY, validator=attrs.validators.ge(0))
    keep: int = attrs.field(default=SNAPSHOT_KEEP, validator=attrs.validators.ge(1))


@attrs.define
class LoadStats:
    """What cold loads of the snapshotted aggregates cost (states read from the store, not
    from the cache)."""

    loads: int = 0
    events_read: int = 0
    """Stream events read and evolved by loads."""
    snapshots_used: int = 0
    snapshots_refused: int = 0
    """Snapshots of another shape or that did not decode: their stream was read whole."""
    snapshots_written: int = 0
    snapshot_write_failures: int = 0


# --------------------------------------------------------------------------- the cache


class Cached(NamedTuple):
    """A cached state; immutable, so that a reader in another thread never sees a state of
    one version with the number of another (a put replaces the whole entry)."""

    state: Any
    version: int
    checked_at: float
    """When (monotonic seconds) the state was last known to be the stream's current one."""


class StateCache:
    """Recently used states with their stream versions, at most ``capacity`` (an LRU).

    Safe to share between threads (the API loads in worker threads). Entries are keyed by the
    stream id's integer, not the ``UUID``: its hash and equality run in C, where a ``UUID``'s
    are Python calls, and the ingest worker gets and puts a few times per alert.
    """

    def __init__(self, capacity: int = CACHE_CAPACITY) -> None:
        self._items: OrderedDict[int, Cached] = OrderedDict()
        self._capacity = max(1, capacity)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, stream: uuid.UUID) -> Cached | None:
        key = stream.int
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, stream: uuid.UUID, state: Any, version: int, checked_at: float) -> None:
        key = stream.int
        items = self._items
        with self._lock:
            current = items.get(key)
            if current is None:
                items[key] = Cached(state, version, checked_at)
                if len(items) > self._capacity:
                    items.popitem(last=False)
                return
            if current.version <= version:
                items[key] = Cached(state, version, checked_at)
            # else: a slower reader must not replace what a faster one already caught up to.
            items.move_to_end(key)

    def stale(self, streams: Iterable[uuid.UUID]) -> None:
        """Have the next load of these streams catch up, whatever age it accepts."""
        with self._lock:
            for stream in streams:
                key = stream.int
                item = self._items.get(key)
                if item is not None:
                    self._items[key] = item._replace(checked_at=float("-inf"))

    def forget(self, streams: Iterable[uuid.UUID]) -> None:
        with self._lock:
            for stream in streams:
                self._items.pop(stream.int, None)


# --------------------------------------------------------------------------- the repository


@attrs.frozen(kw_only=True)
class Step(Generic[K, S]):
    """One stream's part of a command: decide against its state (see ``execute_all``)."""

    kind: Kind[K, S]
    key: K
    decide: Callable[[S], Sequence[Any]]


@attrs.frozen(kw_only=True)
class Loaded:
    """A state a unit of work holds: ``state`` after what it decided, ``version`` the stream's
    version it was decided against (the append's expectation)."""

    kind: Kind[Any, Any]
    key: Any
    state: Any
    version: int


class Repository:
    """Aggregates over an event store: load, execute with retries, one bounded cache.

    ``snapshots`` defaults to the store itself when it keeps snapshots; they are used only
    for the kinds that name a ``snapshot_type``.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        cache: StateCache | None = None,
        snapshots: SnapshotStore | None = None,
        snapshotting: Snapshotting = Snapshotting(),
        retry: RetryPolicy = RetryPolicy(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._cache = cache if cache is not None else StateCache()
        if snapshots is None and isinstance(store, SnapshotStore):
            snapshots = store
        self._snapshots = snapshots if snapshotting.every else None
        self._snapshotting = snapshotting
        self._retry = retry
        self._monotonic = monotonic
        # Streams loaded from further back than a snapshot interval: snapshot them at the next
        # commit, so history recorded before snapshots existed gets one on first use.
        self._owed: set[uuid.UUID] = set()
        self.stats = LoadStats()

    # ------------------------------------------------------------------ reading

    def load(self, kind: Kind[K, S], key: K, *, max_age_s: float = 0.0) -> tuple[S, int]:
        """A stream's state and version (0: nothing recorded yet).

        A cached state checked less than ``max_age_s`` ago is returned as it is (``math.inf``:
        trust the cache, for decisions whose append checks the version); otherwise the events
        recorded after it are read and folded.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        stream = kind.stream(key)
        now = self._monotonic()
        cached = self._cache.get(stream)
        if cached is not None and now - cached.checked_at < max_age_s:
            return cached.state, cached.version
        if cached is not None:
            state, version = cached.state, cached.version
            for item in self.store.read_stream(stream, version):
                state = kind.evolve(state, item.event)
                version = item.version
        else:
            state, version = self._cold(kind, key, stream)
        self._cache.put(stream, state, version, now)
        return state, version

    def preload(self, kind: Kind[K, S], keys: Iterable[K]) -> dict[K, S]:
        """The initial states of those of ``keys`` not cached whose stream holds no event yet,
        by key (their version is 0), when the store can tell for many streams at once
        (``StreamIndex``): a batch of new alerts then costs one query per few hundred, not a
        snapshot lookup and a stream read each. They are not cached: a unit of work decides on
        them and its commit caches what it decided.

        A stream another writer starts meanwhile is no harm: the append expecting version 0
        conflicts, and the retry reads it.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        if not isinstance(self.store, StreamIndex):
            return {}
        get = self._cache.get
        stream = kind.stream
        unknown = {s: key for s, key in ((stream(key), key) for key in keys) if get(s) is None}
        if not unknown:
            return {}
        existing = self.store.existing_streams(list(unknown))
        initial = kind.initial
        return {key: initial(key) for s, key in unknown.items() if s not in existing}

    def cached(self, kind: Kind[K, S], key: K, *, max_age_s: float) -> tuple[S, int] | None:
        """The cached state and version if checked less than ``max_age_s`` ago, else None;
        never reads the store (for hot paths that must not wait on a thread)."""
        cached = self._cache.get(kind.stream(key))
        if cached is None or self._monotonic() - cached.checked_at >= max_age_s:
            return None
        return cached.state, cached.version

    def forget(self, kind: Kind[K, Any], key: K) -> None:
        """Drop a stream's cached state (the next load reads it whole)."""
        self._cache.forget((kind.stream(key),))

    # ------------------------------------------------------------------ writing

    def execute(
        self, kind: Kind[K, S], key: K, decide: Callable[[S], Sequence[Any]]
    ) -> tuple[S, tuple[Any, ...]]:
        """Decide against the stream's current state and append what was decided.

        Returns the state after the new events and the events (none: nothing was appended).

        Raises:
            CommandRejected: the decider refused the command.
            ConcurrencyConflict: the stream kept changing under us.
            StoreUnavailable: the store cannot be reached.
        """
        ((state, events),) = self.execute_all((Step(kind=kind, key=key, decide=decide),))
        return state, events

    def execute_all(
        self, steps: Sequence[Step[Any, Any]]
    ) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
        """Decide each step against its stream's current state, in order, and append all that
        was decided in one transaction (each step a different stream).

        Returns, per step, the state after its new events and those events.

        Raises:
            CommandRejected: a decider refused the command (nothing was appended).
            ConcurrencyConflict: the streams kept changing under us.
            StoreUnavailable: the store cannot be reached.
        """

        def attempt(_: int) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
            results: list[tuple[Any, tuple[Any, ...]]] = []
            loaded: list[Loaded] = []
            appends: list[StreamAppend] = []
            for step in steps:
                state, version = self.load(step.kind, step.key)
                events = tuple(step.decide(state))
                for event in events:
                    state = step.kind.evolve(state, event)
                results.append((state, events))
                loaded.append(Loaded(kind=step.kind, key=step.key, state=state, version=version))
                if events:
                    stream = step.kind.stream(step.key)
                    appends.append(
                        StreamAppend(stream_id=stream, expected_version=version, events=events)
                    )
            if appends:
                self.commit(AppendBatch(streams=tuple(appends)), loaded)
            return tuple(results)

        return self.retrying(attempt)

    def retrying(self, attempt: Callable[[int], T]) -> T:
        """Run ``attempt(number)`` (from 1) until it does not conflict, as the retry policy
        allows; the streams that conflicted are caught up on their next load.

        Raises:
            ConcurrencyConflict: the last attempt conflicted too.
        """
        for number in range(1, self._retry.attempts + 1):
            try:
                return attempt(number)
            except ConcurrencyConflict as conflict:
                self._cache.stale(conflict.stream_ids)
                if number == self._retry.attempts:
                    raise
                self._retry.backoff(number)
        raise AssertionError("unreachable")

    def commit(self, batch: AppendBatch, loaded: Iterable[Loaded]) -> int:
        """Append ``batch``; then cache the ``loaded`` states at their new versions and write
        the snapshots that are due. Returns the log position after the batch.

        Raises:
            DuplicateInput: an input of the batch was already recorded.
            ConcurrencyConflict: a stream was not at its expected version.
            StoreUnavailable: the store could not be reached.
        """
        now = self._monotonic()
        position = self.store.append(batch)
        # By the stream id's integer: it hashes in C, a ``UUID`` in Python.
        appended: dict[int, int] = {}
        for part in batch.streams:
            number = part.stream_id.int
            appended[number] = appended.get(number, 0) + len(part.events)
        due: list[Snapshot] = []
        put = self._cache.put
        for held in loaded:
            stream = held.kind.stream(held.key)
            after = held.version + appended.get(stream.int, 0)
            put(stream, held.state, after, now)
            if self._snapshot_due(held, stream, after):
                form = held.kind.snapshot_form
                state = form(held.state) if form is not None else held.state
                due.append(Snapshot(stream_id=stream, version=after, state=state))
        self._owed.clear()
        self._save_snapshots(due)
        return position

    # ------------------------------------------------------------------ snapshots

    def _cold(self, kind: Kind[K, S], key: K, stream: uuid.UUID) -> tuple[S, int]:
        snapshot_type = kind.snapshot_type
        snapshot = self._latest_snapshot(stream, snapshot_type) if snapshot_type else None
        state, version = (snapshot.state, snapshot.version) if snapshot else (kind.initial(key), 0)
        recorded = self.store.read_stream(stream, version)
        for item in recorded:
            state = kind.evolve(state, item.event)
            version = item.version
        if snapshot_type is not None:
            self.stats.loads += 1
            self.stats.events_read += len(recorded)
            if self._snapshots is not None and len(recorded) >= self._snapshotting.every:
                self._owed.add(stream)
        return state, version

    def _latest_snapshot(self, stream: uuid.UUID, state_type: type[Any]) -> Snapshot | None:
        """The stream's latest usable snapshot; None (read the whole stream) when there is
        none or it is unreadable, which is logged and counted, never raised."""
        if self._snapshots is None:
            return None
        try:
            snapshot = self._snapshots.load_snapshot(stream, state_type)
        except SnapshotUnreadable as refused:
            self.stats.snapshots_refused += 1
            _log.warning(
                "ingest.snapshot_refused",
                stream=str(stream),
                version=refused.version,
                reason=refused.reason,
                error=str(refused),
            )
            return None
        except EventStoreError as error:
            # E.g. a PostgreSQL schema migrated before snapshots existed: the stream is whole.
            self.stats.snapshots_refused += 1
            _log.warning("ingest.snapshot_unavailable", stream=str(stream), error=str(error))
            return None
        self.stats.snapshots_used += snapshot is not None
        return snapshot

    def _snapshot_due(self, held: Loaded, stream: uuid.UUID, after: int) -> bool:
        if self._snapshots is None or held.kind.snapshot_type is None or not after:
            return False
        every = self._snapshotting.every
        return after // every > held.version // every or bool(self._owed and stream in self._owed)

    def _save_snapshots(self, due: list[Snapshot]) -> None:
        """Best effort: snapshots are a cache, a failure to write them fails nothing."""
        if not due or self._snapshots is None:
            return
        try:
            self._snapshots.save_snapshots(due, keep=self._snapshotting.keep)
        except EventStoreError as error:
            self.stats.snapshot_write_failures += 1
            _log.warning("ingest.snapshot_write_failed", snapshots=len(due), error=str(error))
            return
        self.stats.snapshots_written += len(due)
