"""Reading the log for replay: pages, which entries are decisions, the window, the states."""

from __future__ import annotations

import contextlib
import functools
import gc
import uuid
from collections.abc import Callable, Iterator, Sequence

import attrs

from helios.apps.application.replay.states import DEFAULT_CAPACITY, StateCache, StateKind
from helios.domain import alert, engine, incident
from helios.domain.values import Millis
from helios.ports.event_store import EventStore, LogEntry

_DECISION_PREFIXES = ("helios.alert.", "helios.incident.")


def is_decision(name: str) -> bool:
    """Whether a stored event is an alert or incident decision (not an input)."""
    return name.startswith(_DECISION_PREFIXES)


def pages(
    store: EventStore, size: int, *, encoded: Callable[[str], bool] | None = None
) -> Iterator[tuple[Sequence[LogEntry], int]]:
    """The log in pages of ``size`` entries, each with the log's last position at the start.

    Entries whose stored name satisfies ``encoded`` are left encoded (see ``read_log``).

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    end = store.max_position()
    after = 0
    while True:
        entries = store.read_log(after, size, encoded=encoded)
        if entries:
            yield entries, end
            after = entries[-1].position
        if len(entries) < size:
            return


@contextlib.contextmanager
def without_automatic_collection() -> Iterator[None]:
    """Automatic garbage collection off for the length of a replay.

    Replay allocates millions of short-lived objects (log entries, events, states) next to
    thousands of long-lived cached states; the collector's passes, one per 700 allocations,
    each walking the young objects, took about a quarter of a 1M-event verify. Replay's objects
    are acyclic and reference counting frees them as before: a 1M-event verify with automatic
    collection on found 49 cyclic objects in all. Other threads of the process run without
    automatic collection meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@attrs.frozen(kw_only=True)
class Window:
    """Which inputs a replay looks at: one tenant (or all), received within [since, until]."""

    tenant: str | None = None
    since: Millis | None = None
    until: Millis | None = None

    def selects(self, tenant: str, at: Millis) -> bool:
        return (
            (self.tenant is None or tenant == self.tenant)
            and (self.since is None or at >= self.since)
            and not self.ended(at)
        )

    def ended(self, at: Millis) -> bool:
        return self.until is not None and at > self.until


# Stream ids are name-based UUIDs (a SHA-1 each); replay asks for the same few repeatedly.
_alert_stream = functools.lru_cache(maxsize=4_096)(alert.alert_stream_id)
_group_stream = functools.lru_cache(maxsize=4_096)(incident.group_stream_id)


def _compact(state: object) -> object:
    return alert.compacted(state) if isinstance(state, alert.AlertState) else state


class CachedStates:
    """Alert and incident-group states for replay, bounded by a ``StateCache``."""

    def __init__(
        self,
        store: EventStore,
        *,
        capacity: int = DEFAULT_CAPACITY,
        starting_from: CachedStates | None = None,
    ) -> None:
        """``starting_from``: states this one diverges from (what-if's two sides)."""
        self._cache: StateCache = StateCache(
            store,
            capacity=capacity,
            compact=_compact,
            fallback=starting_from._cache.load if starting_from is not None else None,
        )

    def alert(self, key: engine.AlertKey) -> alert.AlertState:
        kind = StateKind(alert.AlertState, lambda: alert.initial_state(*key), alert.evolve)
        return self._cache.load(_alert_stream(*key), kind)  # type: ignore[no-any-return]

    def group(self, key: engine.GroupKey) -> incident.IncidentGroup:
        kind = StateKind(
            incident.IncidentGroup, lambda: incident.initial_state(*key), incident.evolve
        )
        return self._cache.load(_group_stream(*key), kind)  # type: ignore[no-any-return]

    def keep(self, working: engine.Working) -> None:
        """Keep the states a replayed input led to."""
        for key, state in working.alerts.items():
            self._cache.put(_alert_stream(*key), state)
        for group, group_state in working.groups.items():
            self._cache.put(_group_stream(*group), group_state)

    def advance(self, stream: uuid.UUID, version: int, *, keep_state: bool) -> None:
        self._cache.advance(stream, version, keep_state=keep_state)

    def evict(self) -> None:
        self._cache.evict(lambda _stream: False)

    @property
    def rebuilds(self) -> int:
        return self._cache.rebuilds

    @property
    def reloads(self) -> int:
        return self._cache.reloads

    def close(self) -> None:
        self._cache.close()
