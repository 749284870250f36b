"""The weekly report: one self-contained HTML page per tenant and week, charts drawn as
inline SVG (no script, no external resource: it reads offline and in a mail client)."""

from __future__ import annotations

import datetime
from html import escape
from typing import Any

import attrs

from helios.apps.application.analytics import documents, queries
from helios.apps.application.analytics.queries import DAY_MS, WEEK_MS, Window
from helios.apps.application.analytics.stats import poisson_rate_change
from helios.ports.analytics import AnalyticsStore


@attrs.frozen(kw_only=True)
class WeeklyReport:
    tenant: str
    report_id: str
    """The ISO week the report covers, e.g. ``2030-W01``."""
    period_start: int
    period_end: int
    summary: dict[str, Any]
    html: str


def week_bounds(at: int) -> tuple[int, int, str]:
    """The last full ISO week (Monday 00:00 UTC to Monday) before ``at``, and its id."""
    moment = datetime.datetime.fromtimestamp(at / 1000, tz=datetime.UTC)
    monday = (moment - datetime.timedelta(days=moment.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    end = int(monday.timestamp() * 1000)
    start = end - WEEK_MS
    year, week, _ = (monday - datetime.timedelta(days=7)).isocalendar()
    return start, end, f"{year}-W{week:02d}"


def weekly_report(store: AnalyticsStore, tenant: str, *, at: int) -> WeeklyReport:
    """The tenant's report of the last full week before ``at``.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    start, end, report_id = week_bounds(at)
    week = Window(tenant=tenant, since=start, until=end)
    before = Window(tenant=tenant, since=start - WEEK_MS, until=start)
    totals = _totals(store, week)
    previous = _totals(store, before)
    daily = _daily(store, week)
    hourly = [(hour, latest) for hour, latest, _ in queries.hourly(store, tenant, until=end)]
    found = documents.suggestions(store, tenant, until=end)["suggestions"][:5]
    pages = poisson_rate_change(previous.get("notifications", 0), totals.get("notifications", 0))
    summary = {
        "alerts": totals.get("alerts", 0),
        "pages": totals.get("notifications", 0),
        "pages_before": previous.get("notifications", 0),
        "pages_trend": pages.direction,
        "out_of_hours": totals.get("out_of_hours", 0),
        "noise_ratio": totals.get("noise_ratio"),
        "mtta_p50": totals.get("mtta_p50"),
        "mttr_p50": totals.get("mttr_p50"),
        "suggestions": len(found),
    }
    html = _page(
        tenant=tenant,
        report_id=report_id,
        start=start,
        end=end,
        summary=summary,
        daily=daily,
        hourly=hourly,
        found=found,
        p_value=pages.p_value,
    )
    return WeeklyReport(
        tenant=tenant,
        report_id=report_id,
        period_start=start,
        period_end=end,
        summary=summary,
        html=html,
    )


def _totals(store: AnalyticsStore, window: Window) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for dimension, _, counted in queries.counts(store, window):
        if dimension == "total":
            totals.update(counted)
            seen = counted["signals"] + counted["duplicates"]
            totals["noise_ratio"] = round(counted["duplicates"] / seen, 4) if seen else None
    for dimension, _, timed in queries.durations(store, window):
        if dimension == "total":
            totals.update(timed)
    return totals


def _daily(store: AnalyticsStore, window: Window) -> list[tuple[str, int, int]]:
    by_day = {
        value: counted
        for dimension, value, counted in queries.counts(store, window)
        if dimension == "day"
    }
    days = []
    for index in range(7):
        day = datetime.datetime.fromtimestamp(
            (window.since + index * DAY_MS) / 1000, tz=datetime.UTC
        ).strftime("%Y-%m-%d")
        counted = by_day.get(day, {})
        days.append((day, int(counted.get("alerts", 0)), int(counted.get("notifications", 0))))
    return days


def _page(
    *,
    tenant: str,
    report_id: str,
    start: int,
    end: int,
    summary: dict[str, Any],
    daily: list[tuple[str, int, int]],
    hourly: list[tuple[int, int]],
    found: list[dict[str, Any]],
    p_value: float,
) -> str:
    first = _date(start)
    last = _date(end - 1)
    numbers = "".join(
        f"<div class='n'><b>{escape(str(value))}</b><span>{escape(label)}</span></div>"
        for label, value in (
            ("alerts", summary["alerts"]),
            (f"pages (week before: {summary['pages_before']})", summary["pages"]),
            ("pages out of hours", summary["out_of_hours"]),
            ("noise ratio", _percent(summary["noise_ratio"])),
            ("MTTA p50", _duration(summary["mtta_p50"])),
            ("MTTR p50", _duration(summary["mttr_p50"])),
        )
    )
    trend = (
        f"Pages {summary['pages_trend']} week over week (p = {p_value:.3g}). "
        f"Test: {documents.TEST}."
    )
    items = "".join(
        f"<li><b>{escape(item['title'])}</b>: {escape(item['why'])}"
        + (
            f"<pre>{escape(item['change']['toml'])}</pre>"
            if item.get("change") and item["change"].get("toml")
            else ""
        )
        + "</li>"
        for item in found
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Helios weekly report {escape(report_id)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Weekly report {escape(report_id)}</h1>"
        f"<p>Tenant {escape(tenant)}, {first} to {last} (UTC).</p>"
        f"<section class='numbers'>{numbers}</section><p>{escape(trend)}</p>"
        "<h2>Alerts and pages per day</h2>"
        + _bars(
            [(day[5:], alerts, pages) for day, alerts, pages in daily],
            "Alerts (dark) and pages (light) per day",
        )
        + "<h2>Alerts by hour of day (UTC)</h2>"
        + _bars([(str(h), n, 0) for h, n in hourly], "Alerts started in each hour of the day")
        + f"<h2>Suggestions</h2><ol>{items or '<li>Nothing stands out this week.</li>'}</ol>"
        + "</body></html>"
    )


def _bars(rows: list[tuple[str, int, int]], label: str) -> str:
    """A bar chart as inline SVG: one pair of bars per row, labelled below, values above."""
    width, height, pad = 640, 180, 20
    top = max([max(a, b) for _, a, b in rows] + [1])
    slot = (width - 2 * pad) / max(len(rows), 1)
    parts = [
        f"<svg role='img' aria-label='{escape(label)}' viewBox='0 0 {width} {height + 40}' "
        f"width='100%' xmlns='http://www.w3.org/2000/svg'><title>{escape(label)}</title>"
    ]
    for index, (name, first, second) in enumerate(rows):
        x = pad + index * slot
        for offset, value, colour in ((0.1, first, "#3558a8"), (0.5, second, "#9db4e6")):
            if not value:
                continue
            h = (height - pad) * value / top
            parts.append(
                f"<rect x='{x + offset * slot:.1f}' y='{height - h:.1f}' width='{slot * 0.4:.1f}' "
                f"height='{h:.1f}' fill='{colour}'><title>{escape(name)}: {value}</title></rect>"
            )
        parts.append(
            f"<text x='{x + slot / 2:.1f}' y='{height + 16}' font-size='11' "
            f"text-anchor='middle'>{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _date(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).strftime("%Y-%m-%d")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.1f}h"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#1b1f24}"
    ".numbers{display:flex;flex-wrap:wrap;gap:1rem}.n{border:1px solid #ccd;padding:.5rem 1rem}"
    ".n b{display:block;font-size:1.6rem}pre{background:#f3f4f7;padding:.5rem}"
)
