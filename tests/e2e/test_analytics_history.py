"""Backdated history through the ingest path: the suggestions it leads to are ranked and
their what-if is the replay's, not a guess."""

from __future__ import annotations

from pathlib import Path

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import documents
from helios.apps.application.analytics.rebuild import rebuild_analytics
from helios.apps.application.analytics.whatif import with_what_if
from helios.apps.composition import open_read_models
from helios.apps.embedded.history import HistoryGenerator
from helios.apps.library import open_store

UNTIL = 1_900_000_000_000


def test_ten_days_of_history_give_a_ranked_noisy_alert_with_its_what_if(tmp_path: Path) -> None:
    envelopes = list(HistoryGenerator(tenant="acme", until=UNTIL, days=10).envelopes())
    analytics = DuckDbAnalytics(":memory:")
    db = open_read_models(f"sqlite:{tmp_path / 'read.db'}")
    with open_store("memory://") as helios:
        for start in range(0, len(envelopes), 200):
            helios.ingest(envelopes[start : start + 200])
        rebuild_analytics(helios.store, analytics, db)
        overview = documents.overview(analytics, "acme", until=UNTIL)
        found = documents.suggestions(analytics, "acme", until=UNTIL)
        pages = overview["totals"]["notifications"]
        with_what_if(helios.store, found, tenant="acme", until=UNTIL, pages=pages)

    assert overview["totals"]["mtta_p50"] is not None
    assert overview["totals"]["flapping"] > 0
    first = found["suggestions"][0]
    assert (first["kind"], first["evidence"]["name"]) == ("noisy", "DiskAlmostFull")
    what_if = first["what_if"]
    assert what_if["alert_pages_before"] == first["evidence"]["pages"] > 10
    assert what_if["alert_pages_after"] < what_if["alert_pages_before"]
    assert what_if["pages_after"] == pages - (
        what_if["alert_pages_before"] - what_if["alert_pages_after"]
    )
    assert what_if["p1_changed"] == 0
    assert "no P1 changed" in what_if["text"]
    kinds = {item["kind"] for item in found["suggestions"]}
    assert {"noisy", "flapping", "fire_together"} <= kinds
    db.close()
    analytics.close()
