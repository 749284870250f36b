"""The SQLite store reads its log with its own statement: the same rows, in the same order, as
the library's ``select_notifications`` gives (markers included, which ``read_log`` skips)."""

from __future__ import annotations

from pathlib import Path

from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.embedded.traffic import TrafficGenerator


def test_the_log_rows_are_those_the_library_selects(tmp_path: Path) -> None:
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    try:
        envelopes = list(
            TrafficGenerator(tenant="acme", start=1_700_000_000_000, seed=3).envelopes(60)
        )
        Ingestor(store).ingest(envelopes[:30])
        Ingestor(store).ingest(envelopes[30:])
        recorder = store._recorder  # type: ignore[attr-defined]
        for after, limit in ((0, 1), (0, 1000), (5, 7), (store.max_position() - 2, 10)):
            expected = [
                (n.id, n.originator_id.hex, n.originator_version, n.topic, bytes(n.state))
                for n in recorder.select_notifications(after, limit, inclusive_of_start=False)
            ]
            rows = store._select_log(after, limit)  # type: ignore[attr-defined]
            assert expected
            assert [(p, o, v, t, bytes(s)) for p, o, v, t, s in rows] == expected
        whole = store.read_log(0, 100_000)
        assert [e.position for e in whole] == sorted(e.position for e in whole)
        assert all(not e.name.startswith("helios.marker.") for e in whole)
    finally:
        store.close()
