"""What the analytics worker publishes for the API: per tenant, an overview, the trends and
the ranked suggestions, each one JSON document computed from the analytics store."""

from __future__ import annotations

from typing import Any

from helios.apps.application.analytics import queries
from helios.apps.application.analytics.queries import DAY_MS, WEEK_MS, Window
from helios.apps.application.analytics.stats import ALPHA, MIN_RELATIVE_CHANGE, poisson_rate_change
from helios.ports.analytics import AnalyticsStore

OVERVIEW_DAYS = 30
TEST = (
    "conditional Poisson rate comparison: given both periods' total n, the later count is "
    f"Binomial(n, 1/2) if the rate did not change; a change is shown when the exact two-sided "
    f"p-value is below {ALPHA} and the rate moved by at least {int(MIN_RELATIVE_CHANGE * 100)}%"
)
QUICK_RESOLVE_S = 600


def overview(store: AnalyticsStore, tenant: str, *, until: int) -> dict[str, Any]:
    """Counts, noise ratio and MTTA/MTTR of the last ``OVERVIEW_DAYS`` days, in total and per
    service, source, priority, day and hour of day.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    window = Window(tenant=tenant, since=until - OVERVIEW_DAYS * DAY_MS, until=until)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for dimension, value, counted in queries.counts(store, window):
        groups[(dimension, value)] = {**counted, "noise_ratio": _noise(counted)}
    for dimension, value, timed in queries.durations(store, window):
        groups.setdefault((dimension, value), {}).update(timed)
    by: dict[str, list[dict[str, Any]]] = {name: [] for name in queries.DIMENSIONS}
    for (dimension, value), row in sorted(groups.items()):
        if dimension in by:
            by[dimension].append({"value": value, **row})
    for dimension in ("service", "source"):
        by[dimension].sort(key=lambda row: -int(row.get("alerts", 0)))
    return {
        "tenant": tenant,
        "since": window.since,
        "until": window.until,
        "totals": groups.get(("total", ""), {}),
        "by": by,
    }


def trends(store: AnalyticsStore, tenant: str, *, until: int, weeks: int = 4) -> dict[str, Any]:
    """Week over week per service, and the last week against the one before by hour of day,
    each comparison with its test's verdict.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    rows = queries.weekly(store, tenant, until=until, weeks=weeks)
    services = sorted({row["service"] for row in rows})
    cell = {(row["week"], row["service"]): row for row in rows}
    week_over_week = []
    for service in services:
        latest = cell.get((0, service), {})
        previous = cell.get((1, service), {})
        alerts = poisson_rate_change(int(previous.get("alerts", 0)), int(latest.get("alerts", 0)))
        pages = poisson_rate_change(int(previous.get("pages", 0)), int(latest.get("pages", 0)))
        week_over_week.append(
            {
                "service": service,
                "alerts": _change(alerts),
                "pages": _change(pages),
                "mttr_p50": {"before": previous.get("mttr_p50"), "after": latest.get("mttr_p50")},
                "weekly_alerts": [
                    int(cell.get((week, service), {}).get("alerts", 0))
                    for week in reversed(range(weeks))
                ],
            }
        )
    by_hour = [
        {"hour": hour, **_change(poisson_rate_change(previous, latest))}
        for hour, latest, previous in queries.hourly(store, tenant, until=until)
    ]
    return {
        "tenant": tenant,
        "until": until,
        "test": TEST,
        "week_over_week": week_over_week,
        "by_hour": by_hour,
    }


def suggestions(store: AnalyticsStore, tenant: str, *, until: int) -> dict[str, Any]:
    """Ranked insights of the last 30 days, each with why, its evidence and, when it implies
    a rule change, the change proposed (its what-if is added by ``insights.with_what_if``).

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    window = Window(tenant=tenant, since=until - OVERVIEW_DAYS * DAY_MS, until=until)
    weeks = OVERVIEW_DAYS / 7
    found: list[dict[str, Any]] = []
    for row in queries.per_alert(store, window):
        found.extend(_alert_insights(row, weeks))
    found.extend(_mttr_insights(store, tenant, until=until))
    for pair in queries.fire_together(store, window):
        found.append(
            {
                "kind": "fire_together",
                "title": f"{pair['first_name'] or pair['first']} and "
                f"{pair['second_name'] or pair['second']} fire together",
                "why": f"they started within 2 minutes of each other {pair['together']} times "
                "in 30 days: one incident would page once",
                "weight": pair["together"] / weeks,
                "evidence": pair,
                "change": _grouping_change(pair),
            }
        )
    found.sort(key=lambda item: (-item["weight"], item["kind"], item["title"]))
    for rank, item in enumerate(found, start=1):
        item["rank"] = rank
        item["id"] = f"{item['kind']}:{item['evidence'].get('key') or item['title']}"
        item["weight"] = round(item["weight"], 2)
        item.setdefault("what_if", None)
    return {"tenant": tenant, "since": window.since, "until": until, "suggestions": found}


def _alert_insights(row: dict[str, Any], weeks: float) -> list[dict[str, Any]]:
    name = row["name"] or row["key"]
    evidence = {key: row[key] for key in row}
    found = []
    pages_per_week = row["pages"] / weeks
    if row["pages"] >= 3 and row["acks"] == 0:
        found.append(
            {
                "kind": "noisy",
                "title": f"{name} pages {pages_per_week:.1f} times a week, never acknowledged",
                "why": f"{row['pages']} pages in 30 days, none acknowledged: people ignore it",
                "weight": pages_per_week,
                "evidence": evidence,
                "change": _quieter(name, row["service"]),
            }
        )
    if row["flaps"] >= 2:
        found.append(
            {
                "kind": "flapping",
                "title": f"{name} flapped {row['flaps']} times",
                "why": "it changes state faster than anyone can act: a longer flap window or a "
                "threshold with hysteresis at the source would keep it steady",
                "weight": row["flaps"] / weeks,
                "evidence": evidence,
                "change": None,
            }
        )
    if row["quick"] >= 3:
        # A quieter rule is worth proposing only for an alert that pages, and once.
        proposes = row["pages"] > 0 and not any(item["change"] for item in found)
        found.append(
            {
                "kind": "self_resolving",
                "title": f"{name} resolves by itself within minutes",
                "why": f"{row['quick']} episodes resolved within {QUICK_RESOLVE_S // 60} minutes "
                "without anyone acknowledging: a lower priority would stop it paging",
                "weight": row["quick"] / weeks,
                "evidence": evidence,
                "change": _quieter(name, row["service"]) if proposes else None,
            }
        )
    return found


def _mttr_insights(store: AnalyticsStore, tenant: str, *, until: int) -> list[dict[str, Any]]:
    found = []
    rows = queries.weekly(store, tenant, until=until, weeks=2)
    cell = {(row["week"], row["service"]): row for row in rows}
    for service in sorted({row["service"] for row in rows}):
        latest, previous = cell.get((0, service)), cell.get((1, service))
        if not latest or not previous:
            continue
        before, after = previous["mttr_p50"], latest["mttr_p50"]
        enough = latest["resolved"] >= 5 and previous["resolved"] >= 5
        if before and after and enough and after >= 1.5 * before:
            found.append(
                {
                    "kind": "mttr_rising",
                    "title": f"{service or '(no service)'}: time to resolve rose "
                    f"{after / before:.1f}x week over week",
                    "why": f"median time to resolve went from {before:.0f}s to {after:.0f}s "
                    f"over {previous['resolved']} and {latest['resolved']} episodes",
                    "weight": float(latest["resolved"]),
                    "evidence": {"service": service, "before": before, "after": after},
                    "change": None,
                }
            )
    return found


def _quieter(name: str, service: str) -> dict[str, Any]:
    matcher = f"alertname={name}"
    return {
        "multiplier": {
            "name": f"quieter-{name}"[:64],
            "percent": 50,
            "matchers": [matcher],
            **({"service": service} if service else {}),
        },
        "toml": f'[[multipliers]]\nname = "quieter-{name}"\npercent = 50\n'
        f'matchers = ["{matcher}"]\n' + (f'service = "{service}"\n' if service else ""),
    }


def _grouping_change(pair: dict[str, Any]) -> dict[str, Any] | None:
    first, second = pair["first_service"], pair["second_service"]
    if first == second:
        return None
    return {"note": f"group services {first!r} and {second!r} into one incident"}


def _change(change: Any) -> dict[str, Any]:
    return {
        "before": change.before,
        "after": change.after,
        "p_value": round(change.p_value, 6),
        "direction": change.direction,
    }


def _noise(counted: dict[str, int]) -> float | None:
    total = counted.get("signals", 0) + counted.get("duplicates", 0)
    return round(counted.get("duplicates", 0) / total, 4) if total else None


__all__ = ["OVERVIEW_DAYS", "TEST", "WEEK_MS", "overview", "suggestions", "trends"]
