"""In-memory event store: the library's plain-Python recorder, for tests and quick runs.

Nothing persists across processes; every ``open_memory_store()`` is a fresh, empty store
unless an existing recorder is passed in (to read the same data with another codec).
"""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory, ProcessRecorder

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.recorder_store import RecorderEventStore


def new_memory_recorder() -> ProcessRecorder:
    """A fresh, empty in-memory process recorder (thread-safe: it holds one lock)."""
    factory = InfrastructureFactory.construct({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return factory.process_recorder()


def open_memory_store(
    *, codec: EventCodec, recorder: ProcessRecorder | None = None
) -> RecorderEventStore:
    """An event store kept in this process's memory."""
    return RecorderEventStore(recorder=recorder or new_memory_recorder(), codec=codec)
