"""Insights as the analytics worker publishes them (``apps/application/analytics``), written
straight into a running world's read models: pages that show insights are tested without
waiting for a month of history to be replayed."""

from __future__ import annotations

from typing import Any

import orjson

from helios.apps.composition import open_read_models
from helios.apps.views import insights

DAY_MS = 86_400_000
UNTIL = 1_893_456_000_000
"""2030-01-01T00:00Z: the end of the 30 days the documents count."""

NOISY_ID = "noisy:alertname=DiskFull"
FLAPPING_ID = "flapping:alertname=HighLatency"
NOISY_TOML = (
    '[[multipliers]]\nname = "quieter-DiskFull"\npercent = 50\n'
    'matchers = ["alertname=DiskFull"]\nservice = "db"\n'
)


def overview(tenant: str) -> dict[str, Any]:
    days = [
        {"value": f"2029-12-{day:02d}", "signals": 10 + day, "alerts": 2 + day % 3}
        for day in range(2, 32)
    ]
    return {
        "tenant": tenant,
        "since": UNTIL - 30 * DAY_MS,
        "until": UNTIL,
        "totals": {
            "signals": 795,  # the sum of the days
            "duplicates": 305,
            "alerts": 90,
            "notifications": 41,
            "out_of_hours": 17,
            "flapping": 3,
            "silenced": 4,
            "noise_ratio": 0.25,
            "mtta_p50": 240.0,
            "mtta_p90": 1500.0,
            "mttr_p50": 1800.0,
            "mttr_p90": 14400.0,
        },
        "by": {"service": [], "source": [], "priority": [], "day": days, "hour": []},
    }


def trends(tenant: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "until": UNTIL,
        "test": "conditional Poisson rate comparison",
        "week_over_week": [
            {
                "service": "db",
                "alerts": {"before": 10, "after": 30, "p_value": 0.002, "direction": "up"},
                "pages": {"before": 20, "after": 28, "p_value": 0.31, "direction": "steady"},
                "mttr_p50": {"before": 1200, "after": 1300},
                "weekly_alerts": [8, 12, 10, 30],
            }
        ],
        "by_hour": [
            {"hour": hour, "before": 3, "after": 3, "p_value": 1.0, "direction": "steady"}
            for hour in range(24)
        ],
    }


def suggestions(tenant: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "since": UNTIL - 30 * DAY_MS,
        "until": UNTIL,
        "suggestions": [
            {
                "id": NOISY_ID,
                "rank": 1,
                "kind": "noisy",
                "title": "DiskFull pages 4.9 times a week, never acknowledged",
                "why": "21 pages in 30 days, none acknowledged: people ignore it",
                "weight": 4.9,
                "evidence": {"key": "alertname=DiskFull", "pages": 21},
                "change": {
                    "multiplier": {
                        "name": "quieter-DiskFull",
                        "percent": 50,
                        "matchers": ["alertname=DiskFull"],
                        "service": "db",
                    },
                    "toml": NOISY_TOML,
                },
                "what_if": {
                    "days": 30,
                    "alert_pages_before": 21,
                    "alert_pages_after": 0,
                    "pages_before": 41,
                    "pages_after": 20,
                    "alerts_changed": 9,
                    "p1_changed": 0,
                    "text": "would have cut 21 pages to 0 (41 to 20 for the tenant in 30 days); "
                    "no P1 changed",
                },
            },
            {
                "id": FLAPPING_ID,
                "rank": 2,
                "kind": "flapping",
                "title": "HighLatency flapped 3 times",
                "why": "it changes state faster than anyone can act",
                "weight": 0.7,
                "evidence": {"key": "alertname=HighLatency"},
                "change": None,
                "what_if": None,
            },
        ],
    }


def publish(read_models_url: str, tenant: str) -> None:
    """Publish the three documents for ``tenant``, as the analytics worker would."""
    bodies = {"overview": overview, "trends": trends, "suggestions": suggestions}
    db = open_read_models(read_models_url)
    try:
        with db.transaction() as cursor:
            insights.publish(
                cursor,
                [
                    insights.Document(
                        tenant=tenant,
                        name=name,
                        generated_at=UNTIL,
                        loaded_through=1,
                        body=orjson.dumps(make(tenant)).decode(),
                    )
                    for name, make in bodies.items()
                ],
            )
    finally:
        db.close()


REPORT_ID = "2029-W52"


def add_report(read_models_url: str, tenant: str) -> None:
    """A weekly report of ``tenant``, as the worker keeps it once the week is over."""
    db = open_read_models(read_models_url)
    try:
        with db.transaction() as cursor:
            insights.add_report(
                cursor,
                insights.Report(
                    tenant=tenant,
                    report_id=REPORT_ID,
                    period_start=UNTIL - 7 * DAY_MS,
                    period_end=UNTIL,
                    created_at=UNTIL,
                    summary=orjson.dumps({"pages": 12}).decode(),
                    html="<!doctype html><html lang='en'><title>Week 2029-W52</title>"
                    "<h1>Week 2029-W52</h1><p>12 pages this week</p></html>",
                ),
            )
    finally:
        db.close()
