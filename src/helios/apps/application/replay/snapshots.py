"""Verify snapshots: each must equal the state obtained by evolving its stream up to its version.

A snapshot is a cache that cold loads trust instead of the stream, so a wrong one would make
every later decision of its alert or incident group start from a wrong state. Each snapshotted
stream is read once, evolved from its initial state, and compared with each of its snapshots
at their versions. A snapshot written for another shape of the state (before an upgrade) is
not a divergence: loads refuse it too, and it is only counted as skipped.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from helios.apps.application.replay.results import Divergence, plain
from helios.domain import alert, incident
from helios.ports.event_store import EventStore
from helios.ports.snapshots import SnapshotStore, SnapshotUnreadable


@attrs.frozen
class _Kind:
    state_type: type[Any]
    stream_of: Callable[[Any], uuid.UUID]
    initial: Callable[[Any], Any]
    evolve: Callable[[Any, Any], Any]


_KINDS = {
    "helios.alert.": _Kind(
        alert.AlertState,
        lambda s: alert.alert_stream_id(s.tenant, s.dedup_key),
        lambda s: alert.initial_state(s.tenant, s.dedup_key),
        alert.evolve,
    ),
    "helios.incident.": _Kind(
        incident.IncidentGroup,
        lambda s: incident.group_stream_id(s.tenant, s.group_key),
        lambda s: incident.initial_state(s.tenant, s.group_key),
        incident.evolve,
    ),
}


@attrs.define
class SnapshotCheck:
    """What checking the snapshots found."""

    checked: int = 0
    skipped: int = 0
    """Snapshots of another shape of the state: refused by loads, so not compared."""
    divergences: list[Divergence] = attrs.Factory(list)


def check_snapshots(store: EventStore, *, tenant: str | None = None) -> SnapshotCheck:
    """Compare every snapshot (of ``tenant``'s streams, or all) with its stream evolved.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    found = SnapshotCheck()
    if not isinstance(store, SnapshotStore):
        return found
    for stream, versions in itertools.groupby(store.snapshot_versions(), key=lambda sv: sv[0]):
        _check_stream(store, stream, [v for _, v in versions], tenant, found)
    return found


def _check_stream(
    store: Any, stream: uuid.UUID, versions: list[int], tenant: str | None, found: SnapshotCheck
) -> None:
    recorded = list(store.read_stream(stream))
    kind = next((k for p, k in _KINDS.items() if recorded and recorded[0].name.startswith(p)), None)
    # The stream is evolved once, on from one snapshot's version to the next.
    evolved: Any = None
    reached = 0
    for version in versions:
        if kind is None:
            found.divergences.append(_diverged(stream, version, None, None, "not an aggregate"))
            continue
        try:
            snapshot = store.load_snapshot(stream, kind.state_type, at_most=version)
        except SnapshotUnreadable as refused:
            if refused.reason == "schema":
                found.skipped += 1
            else:
                found.divergences.append(_diverged(stream, version, None, None, str(refused)))
            continue
        if snapshot is None or snapshot.version != version:
            continue  # pruned since it was listed
        state = snapshot.state
        if tenant is not None and state.tenant != tenant:
            continue
        found.checked += 1
        if kind.stream_of(state) != stream:
            found.divergences.append(
                _diverged(stream, version, state, None, "snapshot of another stream's aggregate")
            )
            continue
        if evolved is None:
            evolved = kind.initial(state)
        evolved = _evolved(kind, evolved, recorded[reached:version])
        reached = version
        if evolved != state:
            found.divergences.append(
                _diverged(stream, version, state, evolved, "snapshot differs from its stream")
            )


def _evolved(kind: _Kind, state: Any, recorded: list[Any]) -> Any:
    # Versions are 1, 2, 3, … in order: the event at version v is ``recorded[v - 1]``.
    for item in recorded:
        state = kind.evolve(state, item.event)
    return state


def _diverged(
    stream: uuid.UUID, version: int, recorded: object, recomputed: object, message: str
) -> Divergence:
    return Divergence(
        kind="snapshot",
        position=0,
        stream_id=str(stream),
        version=version,
        name=type(recorded).__name__ if recorded is not None else "",
        recorded=_plain_state(recorded),
        recomputed=_plain_state(recomputed),
        message=message,
    )


def _plain_state(state: object) -> Any:
    return None if state is None else plain(state)
