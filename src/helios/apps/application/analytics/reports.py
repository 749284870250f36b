"""Keeping the weekly reports: each tenant's report of the last full week, made once."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import orjson

from helios.apps.application.analytics.report import WeeklyReport, week_bounds, weekly_report
from helios.apps.application.repository import REPORTS, Repository
from helios.apps.views import insights
from helios.domain import reports
from helios.ports.analytics import AnalyticsStore
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels


def keep_due_reports(
    store: AnalyticsStore,
    db: ReadModels,
    log: EventStore,
    *,
    tenants: Iterable[str],
    at: int,
    by: str = "analytics",
) -> list[WeeklyReport]:
    """Issue, make and keep the report of the last full week before ``at`` for each tenant
    that has none yet and had decisions by the week's end; returns the reports issued now (to
    be mailed).

    Issuing is recorded in the tenant's ``reports`` stream, once per week (its id is the ISO
    week): a second worker, or this one after a restart, issues and mails nothing more; a
    report issued but not kept (a crash in between) is kept, not issued again.

    Raises:
        AnalyticsUnavailable: the analytics store cannot be read.
        StoreUnavailable: the read models or the log cannot be reached.
    """
    start, end, report_id = week_bounds(at)
    issued = []
    for tenant in tenants:
        if insights.report(db, tenant=tenant, report_id=report_id) is not None:
            continue
        first = store.query("SELECT min(at_ms) FROM facts WHERE tenant = ?", [tenant])
        if not first or first[0][0] is None or int(first[0][0]) >= end:
            continue
        report = weekly_report(store, tenant, at=at)
        command = reports.IssueReport(
            report_id=report_id, period_start=start, period_end=end, at=at, by=by
        )
        _, events = Repository(log).execute(
            REPORTS, tenant, functools.partial(reports.decide, command)
        )
        with db.transaction() as cursor:
            insights.add_report(cursor, _row(report, at))
        if events:
            issued.append(report)
    return issued


def _row(report: WeeklyReport, at: int) -> insights.Report:
    return insights.Report(
        tenant=report.tenant,
        report_id=report.report_id,
        period_start=report.period_start,
        period_end=report.period_end,
        created_at=at,
        summary=orjson.dumps(report.summary).decode(),
        html=report.html,
    )


def report_text(report: WeeklyReport) -> str:
    """The plain-text part of the report's email: the headline numbers."""
    s = report.summary
    return (
        f"Helios weekly report {report.report_id}\n\n"
        f"alerts: {s['alerts']}\npages: {s['pages']} (week before: {s['pages_before']}, "
        f"{s['pages_trend']})\npages out of hours: {s['out_of_hours']}\n"
        f"suggestions: {s['suggestions']}\n\nThe HTML part has the charts and suggestions.\n"
    )
