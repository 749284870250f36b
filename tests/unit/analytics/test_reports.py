"""The weekly report: its week, its numbers, its offline charts; kept once and mailed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.adapters.memory.mailer import InMemoryMailer
from helios.adapters.store.factory import open_event_store
from helios.apps.application.analytics.report import week_bounds, weekly_report
from helios.apps.application.analytics.reports import keep_due_reports
from helios.apps.composition import open_read_models
from helios.apps.views import insights
from helios.apps.workers.analytics import AnalyticsWorker, ReportMail
from helios.ports.analytics import Fact

MINUTE = 60_000
MONDAY = int(datetime(2030, 1, 7, tzinfo=UTC).timestamp() * 1000)  # 2030-W02 starts
AT = MONDAY + 9 * 60 * MINUTE  # Monday 09:00: the report is of 2030-W01


def _facts() -> list[Fact]:
    rows: list[Fact] = []

    def add(kind: str, at: int, **fields: str) -> None:
        rows.append(
            Fact(position=len(rows) + 1, tenant="acme", kind=kind, key="disk", at_ms=at, **fields)
        )

    add("signal", MONDAY - 6 * 24 * 60 * MINUTE, service="db", source="am", detail="DiskFull")
    for day in range(6):
        start = MONDAY - (day + 1) * 24 * 60 * MINUTE + 3 * 60 * MINUTE  # 03:00, out of hours
        add("triggered", start, episode=f"e{day}")
        add("notified", start, episode=f"e{day}", priority="P2")
        add("resolved", start + 2 * MINUTE, episode=f"e{day}")
    return rows


def test_the_report_covers_the_last_full_iso_week_with_inline_charts() -> None:
    assert week_bounds(AT) == (MONDAY - 7 * 24 * 60 * MINUTE, MONDAY, "2030-W01")
    store = DuckDbAnalytics(":memory:")
    store.load(_facts())

    report = weekly_report(store, "acme", at=AT)

    assert report.report_id == "2030-W01"
    assert report.summary["pages"] == 6
    assert report.summary["out_of_hours"] == 6
    assert report.html.count("<svg") == 2
    assert "<script" not in report.html
    assert "http" not in report.html.replace("http://www.w3.org/2000/svg", "")
    assert "DiskFull" in report.html  # the self-resolving suggestion names it
    store.close()


def test_a_week_is_reported_once_and_mailed_to_the_subscribers(tmp_path: Path) -> None:
    store = DuckDbAnalytics(":memory:")
    store.load(_facts())
    db = open_read_models(f"sqlite:{tmp_path / 'read.db'}")
    mailer = InMemoryMailer()

    class _Queue:
        async def depth(self) -> int:
            return 0

    log = open_event_store("memory://")
    worker = AnalyticsWorker(
        queue=_Queue(),  # type: ignore[arg-type]
        analytics=store,
        db=db,
        log=log,
        clock=lambda: AT,
        reports=ReportMail(mailer=mailer, sender="helios@x", recipients=("team@x",)),
    )
    asyncio.run(worker.publish())

    kept = insights.reports(db, tenant="acme")
    assert [r.report_id for r in kept] == ["2030-W01"]
    assert orjson.loads(kept[0].summary)["pages"] == 6
    assert [m.recipients for m in mailer.sent] == [("team@x",)]
    assert mailer.sent[0].html.startswith("<!doctype html>")
    issued = [e.event for e in log.read_log(0, 10) if e.name == "helios.report.issued.v1"]
    assert [(e.report_id, e.by) for e in issued] == [("2030-W01", "analytics")]
    assert keep_due_reports(store, db, log, tenants=["acme"], at=AT + 60 * MINUTE) == []
    assert keep_due_reports(store, db, log, tenants=["nobody"], at=AT) == []
    # Issued, but the read models lost it (rebuilt elsewhere): kept again, not issued again.
    other = open_read_models(f"sqlite:{tmp_path / 'other.db'}")
    assert keep_due_reports(store, other, log, tenants=["acme"], at=AT) == []
    assert [r.report_id for r in insights.reports(other, tenant="acme")] == ["2030-W01"]
    other.close()
    db.close()
    store.close()
