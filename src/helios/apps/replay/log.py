"""Reading the log for replay: pages, which entries are decisions, the window, the states."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Sequence

import attrs

from helios.apps.replay.states import DEFAULT_CAPACITY, StateCache
from helios.domain import alert, engine, incident
from helios.domain.values import Millis
from helios.ports.event_store import EventStore, LogEntry

_DECISION_PREFIXES = ("helios.alert.", "helios.incident.")


def is_decision(name: str) -> bool:
    """Whether a stored event is an alert or incident decision (not an input)."""
    return name.startswith(_DECISION_PREFIXES)


def pages(store: EventStore, size: int) -> Iterator[tuple[Sequence[LogEntry], int]]:
    """The log in pages of ``size`` entries, each with the log's last position at the start.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    end = store.max_position()
    after = 0
    while True:
        entries = store.read_log(after, size)
        if entries:
            yield entries, end
            after = entries[-1].position
        if len(entries) < size:
            return


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
_alert_stream = functools.lru_cache(maxsize=65_536)(engine.alert_stream)
_group_stream = functools.lru_cache(maxsize=65_536)(engine.group_stream)


class CachedStates:
    """Alert and incident-group states for replay, bounded by a ``StateCache``."""

    def __init__(self, store: EventStore, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._cache = StateCache(store, capacity=capacity)

    def alert(self, key: engine.AlertKey) -> alert.AlertState:
        return self._cache.load(  # type: ignore[no-any-return]
            _alert_stream(*key),
            lambda: alert.initial_state(*key),
            alert.evolve,
        )

    def group(self, key: engine.GroupKey) -> incident.IncidentGroup:
        return self._cache.load(  # type: ignore[no-any-return]
            _group_stream(*key),
            lambda: incident.initial_state(*key),
            incident.evolve,
        )

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

    def close(self) -> None:
        self._cache.close()
