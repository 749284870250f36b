"""The snapshot port: an aggregate's state at a version of its stream, kept beside the stream.

A snapshot is a cache of ``evolve`` over a stream's first ``version`` events: loading a
state reads the latest snapshot and only the events after it, so a cold load costs the same
whatever the length of the stream. Snapshots are never the truth: the stream is. Any snapshot
may be missing (pruned, never written, written by a store that predates them), and one written
for another shape of the state is refused (``SnapshotUnreadable``), so the caller falls back to
reading the whole stream. Snapshots live outside the streams and the log: they change neither a
stream's versions nor the bytes replay compares.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

import attrs

from helios.ports.event_store import EventStoreError

S = TypeVar("S")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


@attrs.frozen(kw_only=True)
class Snapshot:
    """``state`` is the stream's aggregate after its events up to ``version``, included."""

    stream_id: UUID
    version: int = attrs.field(validator=_positive)
    state: Any


class SnapshotUnreadable(EventStoreError):
    """A snapshot exists but cannot be used: read the stream instead.

    ``reason`` is ``schema`` (written for another shape of the state, or another type) or
    ``decode`` (its bytes do not decode).
    """

    def __init__(self, *, stream_id: UUID, version: int, reason: str, detail: str = "") -> None:
        self.stream_id = stream_id
        self.version = version
        self.reason = reason
        super().__init__(
            f"snapshot of {stream_id} at version {version} unreadable ({reason}): {detail}"
        )


class SnapshotUnsupported(EventStoreError):
    """A state's type cannot be snapshotted (it holds values msgpack cannot represent)."""


@runtime_checkable
class SnapshotStore(Protocol):
    """Aggregate states at versions of their streams, written and pruned in one transaction."""

    def save_snapshots(self, snapshots: Sequence[Snapshot], *, keep: int) -> None:
        """Record the snapshots, then keep only the ``keep`` latest of each of their streams.

        A snapshot already recorded at the same stream and version is left as it was (two
        writers computed the same state from the same events).

        Raises:
            ValueError: ``keep`` is less than 1.
            SnapshotUnsupported: a state cannot be encoded (nothing was written).
            StoreUnavailable: the store could not be reached (nothing was written).
        """
        ...

    def load_snapshot(
        self, stream_id: UUID, state_type: type[S], *, at_most: int | None = None
    ) -> Snapshot | None:
        """The stream's latest snapshot (at a version ``<= at_most`` if given), or None.

        Raises:
            SnapshotUnreadable: the latest snapshot was written for another shape of
                ``state_type`` (or ``state_type`` cannot be snapshotted) or does not decode.
            StoreUnavailable: the store could not be reached.
        """
        ...

    def snapshot_versions(self) -> Iterator[tuple[UUID, int]]:
        """Every recorded snapshot as ``(stream_id, version)``, grouped by stream, versions
        ascending (for verification).

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        ...
