"""Law: loading states from snapshots never changes a decision (whatever the interval)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.application.repository import Snapshotting, StateCache
from helios.apps.embedded.traffic import TrafficGenerator
from helios.ports.event_store import EventStore

T0 = 1_773_480_000_000


def recorded(store: EventStore) -> list[tuple[object, int, str, object]]:
    return [(e.stream_id, e.version, e.name, e.event) for e in store.read_log(0, 10**6)]


@given(
    every=st.integers(min_value=1, max_value=12),
    batch=st.integers(min_value=1, max_value=7),
    seed=st.integers(min_value=0, max_value=5),
)
def test_cold_loads_from_snapshots_decide_as_loads_of_whole_streams(
    every: int, batch: int, seed: int
) -> None:
    """Each batch by a new ingestor (empty cache): from snapshots, or from the first event."""
    envelopes = list(TrafficGenerator(tenant="acme", start=T0, seed=seed, problems=3).envelopes(36))
    from_snapshots, from_streams = open_event_store("memory://"), open_event_store("memory://")
    for start in range(0, len(envelopes), batch):
        part = envelopes[start : start + batch]
        snapshotting = Snapshotting(every=every)
        Ingestor(from_snapshots, cache=StateCache(), snapshotting=snapshotting).ingest(part)
        Ingestor(from_streams, cache=StateCache(), snapshotting=Snapshotting(every=0)).ingest(part)

    assert recorded(from_snapshots) == recorded(from_streams)
