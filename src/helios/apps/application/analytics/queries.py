"""The analytics SQL over ``facts`` (DuckDB dialect, see ``helios.ports.analytics``).

Facts other than signals carry no service or source; an alert's are those of its latest
signal. An episode's priority is the latest it was scored at (by an ``AlertScored``, or by
the decision opening it, which carries its first score from engine version 4 on). Hours and
days are UTC; "out of hours" is before 08:00, from 18:00, or a Saturday or Sunday.
"""

from __future__ import annotations

from typing import Any

import attrs

from helios.ports.analytics import AnalyticsStore

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

# The facts of one tenant in [since, until), each with its alert's service and source and its
# episode's priority. Parameters: tenant, tenant, tenant, since, until.
_ENRICHED = """
WITH dims AS (
    SELECT key, arg_max(service, position) AS service, arg_max(source, position) AS source,
           arg_max(detail, position) AS name
    FROM facts WHERE tenant = ? AND kind = 'signal' GROUP BY key
), prio AS (
    SELECT key, episode, arg_max(priority, position) AS priority
    FROM facts WHERE tenant = ? AND priority <> ''
        AND kind IN ('scored', 'triggered', 'reopened') GROUP BY key, episode
), f AS (
    SELECT f.kind, f.key, f.episode, f.at_ms, f.detail,
           coalesce(nullif(f.service, ''), d.service, '') AS service,
           coalesce(nullif(f.source, ''), d.source, '') AS source,
           coalesce(nullif(f.priority, ''), p.priority, '') AS priority,
           coalesce(d.name, '') AS name,
           make_timestamp(f.at_ms * 1000) AS ts
    FROM facts f
    LEFT JOIN dims d ON d.key = f.key
    LEFT JOIN prio p ON p.key = f.key AND p.episode = f.episode
    WHERE f.tenant = ? AND f.at_ms >= ? AND f.at_ms < ?
)"""

_COUNTS = """
    count(*) FILTER (WHERE kind = 'signal') AS signals,
    count(*) FILTER (WHERE kind = 'duplicate') AS duplicates,
    count(*) FILTER (WHERE kind IN ('triggered', 'reopened')) AS alerts,
    count(*) FILTER (WHERE kind = 'notified') AS notifications,
    count(*) FILTER (WHERE kind = 'notified' AND ((at_ms // 3600000) % 24 < 8
                     OR (at_ms // 3600000) % 24 >= 18
                     OR (at_ms // 86400000 + 3) % 7 >= 5)) AS out_of_hours,
    count(*) FILTER (WHERE kind = 'flapping_started') AS flapping,
    count(*) FILTER (WHERE kind = 'silenced'
                     OR (kind = 'suppressed' AND detail = 'silenced')) AS silenced"""

COUNT_NAMES = (
    "signals",
    "duplicates",
    "alerts",
    "notifications",
    "out_of_hours",
    "flapping",
    "silenced",
)
DIMENSIONS = ("service", "source", "priority", "day", "hour")

# Episodes: when they started, were first acknowledged, resolved (seconds).
_EPISODES = """, episodes AS (
    SELECT key, episode, any_value(service) AS service, any_value(source) AS source,
           max(priority) FILTER (WHERE priority <> '') AS priority,
           min(at_ms) FILTER (WHERE kind IN ('triggered', 'reopened')) AS started,
           min(at_ms) FILTER (WHERE kind = 'acknowledged') AS acked,
           min(at_ms) FILTER (WHERE kind = 'resolved') AS resolved
    FROM f WHERE episode <> '' GROUP BY key, episode
), timed AS (
    SELECT *, strftime(make_timestamp(started * 1000), '%Y-%m-%d') AS day,
           CAST(hour(make_timestamp(started * 1000)) AS VARCHAR) AS hour,
           (acked - started) / 1000.0 AS tta, (resolved - started) / 1000.0 AS ttr
    FROM episodes WHERE started IS NOT NULL
)"""

_DURATIONS = """
    quantile_cont(tta, 0.5) FILTER (WHERE tta >= 0) AS mtta_p50,
    quantile_cont(tta, 0.9) FILTER (WHERE tta >= 0) AS mtta_p90,
    quantile_cont(ttr, 0.5) FILTER (WHERE ttr >= 0) AS mttr_p50,
    quantile_cont(ttr, 0.9) FILTER (WHERE ttr >= 0) AS mttr_p90"""
DURATION_NAMES = ("mtta_p50", "mtta_p90", "mttr_p50", "mttr_p90")


@attrs.frozen(kw_only=True)
class Window:
    tenant: str
    since: int
    until: int

    def params(self) -> list[Any]:
        return [self.tenant, self.tenant, self.tenant, self.since, self.until]


def _grouping(prefix: str = "") -> str:
    cases = " ".join(
        f"WHEN grouping({prefix}{name}) = 0 THEN '{name}'"
        for name in ("service", "source", "priority", "day", "hour")
    )
    value = ", ".join(
        f"{prefix}{name}" for name in ("service", "source", "priority", "day", "hour")
    )
    return f"CASE {cases} ELSE 'total' END AS dimension, coalesce({value}, '') AS value"


_SETS = "GROUPING SETS ((), (service), (source), (priority), (day), (hour))"


def counts(store: AnalyticsStore, window: Window) -> list[tuple[str, str, dict[str, int]]]:
    """``(dimension, value, counts)`` for the whole window (``total``) and per service,
    source, priority, day and hour of day.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    # Counted first per service, source, priority, day and hour (integers: formatting a date
    # per fact costs more than the counting), then rolled up over those few rows.
    names = ", ".join(COUNT_NAMES)
    sums = ", ".join(f"coalesce(sum({name}), 0)" for name in COUNT_NAMES)
    sql = (
        f"{_ENRICHED}, fine AS (SELECT service, source, priority, at_ms // {DAY_MS} AS d, "
        f"(at_ms // {HOUR_MS}) % 24 AS h, {_COUNTS} FROM f GROUP BY ALL), "
        "g AS (SELECT service, source, priority, "
        f"strftime(make_timestamp(d * {DAY_MS * 1000}), '%Y-%m-%d') AS day, "
        f"CAST(h AS VARCHAR) AS hour, {names} FROM fine) "
        f"SELECT {_grouping()}, {sums} FROM g GROUP BY {_SETS}"
    )
    return [
        (row[0], row[1], dict(zip(COUNT_NAMES, (int(v) for v in row[2:]), strict=True)))
        for row in store.query(sql, window.params())
    ]


def durations(
    store: AnalyticsStore, window: Window
) -> list[tuple[str, str, dict[str, float | None]]]:
    """``(dimension, value, MTTA and MTTR p50/p90 in seconds)`` of the episodes started in
    the window, as ``counts`` groups them.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    sql = f"{_ENRICHED}{_EPISODES} SELECT {_grouping()}, {_DURATIONS} FROM timed GROUP BY {_SETS}"
    return [
        (
            row[0],
            row[1],
            dict(zip(DURATION_NAMES, (_seconds(v) for v in row[2:]), strict=True)),
        )
        for row in store.query(sql, window.params())
    ]


def weekly(store: AnalyticsStore, tenant: str, *, until: int, weeks: int) -> list[dict[str, Any]]:
    """Alerts and notifications per service in each of the last ``weeks`` weeks before
    ``until`` (``week`` 0 is the latest), with the week's MTTR p50.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    window = Window(tenant=tenant, since=until - weeks * WEEK_MS, until=until)
    sql = (
        f"{_ENRICHED}{_EPISODES} "
        "SELECT CAST((? - 1 - at_ms) // ? AS INTEGER) AS week, service, "
        "count(*) FILTER (WHERE kind IN ('triggered', 'reopened')) AS alerts, "
        "count(*) FILTER (WHERE kind = 'notified') AS pages, "
        "count(*) FILTER (WHERE kind = 'signal') AS signals "
        "FROM f GROUP BY ALL ORDER BY week, service"
    )
    rows = store.query(sql, [*window.params(), until, WEEK_MS])
    mttr_sql = (
        f"{_ENRICHED}{_EPISODES} "
        "SELECT CAST((? - 1 - started) // ? AS INTEGER) AS week, service, "
        "quantile_cont(ttr, 0.5) FILTER (WHERE ttr >= 0), count(ttr) "
        "FROM timed GROUP BY ALL"
    )
    mttr = {
        (int(w), s): (_seconds(v), int(n))
        for w, s, v, n in store.query(mttr_sql, [*window.params(), until, WEEK_MS])
    }
    return [
        {
            "week": int(week),
            "service": service,
            "alerts": int(alerts),
            "pages": int(pages),
            "signals": int(signals),
            "mttr_p50": mttr.get((int(week), service), (None, 0))[0],
            "resolved": mttr.get((int(week), service), (None, 0))[1],
        }
        for week, service, alerts, pages, signals in rows
    ]


def hourly(store: AnalyticsStore, tenant: str, *, until: int) -> list[tuple[int, int, int]]:
    """``(hour of day, alerts in the last week, alerts in the week before)`` for each UTC hour.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    window = Window(tenant=tenant, since=until - 2 * WEEK_MS, until=until)
    sql = (
        f"{_ENRICHED} SELECT hour(ts) AS h, "
        "count(*) FILTER (WHERE at_ms >= ?) AS latest, "
        "count(*) FILTER (WHERE at_ms < ?) AS previous "
        "FROM f WHERE kind IN ('triggered', 'reopened') GROUP BY h ORDER BY h"
    )
    seen = {
        int(h): (int(a), int(b))
        for h, a, b in store.query(sql, [*window.params(), until - WEEK_MS, until - WEEK_MS])
    }
    return [(hour, *seen.get(hour, (0, 0))) for hour in range(24)]


def per_alert(store: AnalyticsStore, window: Window) -> list[dict[str, Any]]:
    """Each alert that notified, flapped or opened an episode in the window: its name,
    service, pages, acknowledgements, flapping episodes, episodes that resolved unacknowledged
    within 10 minutes, highest priority.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    sql = (
        f"{_ENRICHED}{_EPISODES} , quick AS ("
        "SELECT key, count(*) AS quick FROM timed WHERE acked IS NULL AND ttr >= 0 "
        "AND ttr < 600 GROUP BY key) "
        "SELECT f.key, any_value(f.name), any_value(f.service), "
        "count(*) FILTER (WHERE kind = 'notified') AS pages, "
        "count(*) FILTER (WHERE kind = 'acknowledged') AS acks, "
        "count(*) FILTER (WHERE kind = 'flapping_started') AS flaps, "
        "count(*) FILTER (WHERE kind IN ('triggered', 'reopened')) AS episodes, "
        "coalesce(any_value(q.quick), 0) AS quick, "
        "min(priority) FILTER (WHERE priority <> '') AS top "
        "FROM f LEFT JOIN quick q ON q.key = f.key GROUP BY f.key "
        "HAVING pages > 0 OR flaps > 0 OR episodes > 0"
    )
    names = ("key", "name", "service", "pages", "acks", "flaps", "episodes", "quick", "priority")
    return [dict(zip(names, row, strict=True)) for row in store.query(sql, window.params())]


def fire_together(
    store: AnalyticsStore, window: Window, *, within_ms: int = 2 * MINUTE_MS, least: int = 3
) -> list[dict[str, Any]]:
    """Pairs of alerts that started episodes within ``within_ms`` of each other at_ms least
    ``least`` times in the window, most frequent first.

    A pair's count is at most the product of its alerts' starts, so an alert that started
    once can only reach ``least`` beside one that started ``least`` times: only such pairs,
    and pairs of alerts that each started more than once, are joined. A burst of alerts that
    each fire once (100,000 at a time) then costs nothing, where joining every start with
    every other would hold billions of pairs; the pairs found are the same.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    pair = (
        "SELECT a.key AS ak, b.key AS bk, a.name AS an, b.name AS bn, a.service AS asv, "
        "b.service AS bsv FROM {a} a, p JOIN {b} b ON a.key < b.key "
        "AND b.at_ms BETWEEN a.at_ms - p.within AND a.at_ms + p.within"
    )
    sql = (
        f"{_ENRICHED}, p AS (SELECT ? AS within, ? AS least), "
        "starts AS (SELECT key, name, service, at_ms, count(*) OVER (PARTITION BY key) AS n "
        "FROM f WHERE kind IN ('triggered', 'reopened')), "
        "multi AS (SELECT * FROM starts WHERE n > 1), "
        "single AS (SELECT * FROM starts WHERE n = 1), "
        "heavy AS (SELECT s.* FROM starts s, p WHERE s.n >= greatest(p.least, 2)), "
        "pairs AS ("
        + " UNION ALL ".join(
            [
                pair.format(a="multi", b="multi"),
                pair.format(a="single", b="heavy"),
                pair.format(a="heavy", b="single"),
                pair.format(a="single", b="single") + " WHERE p.least <= 1",
            ]
        )
        + ") SELECT ak, bk, any_value(an), any_value(bn), any_value(asv), any_value(bsv), "
        "count(*) AS together FROM pairs, p GROUP BY ak, bk "
        "HAVING count(*) >= any_value(p.least) ORDER BY together DESC, ak, bk LIMIT 20"
    )
    names = ("first", "second", "first_name", "second_name", "first_service", "second_service")
    return [
        {**dict(zip(names, row[:6], strict=True)), "together": int(row[6])}
        for row in store.query(sql, [*window.params(), within_ms, least])
    ]


def tenants(store: AnalyticsStore) -> list[str]:
    """Every tenant with facts.

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    return [str(row[0]) for row in store.query("SELECT DISTINCT tenant FROM facts ORDER BY 1")]


def latest_at(store: AnalyticsStore, tenant: str) -> int | None:
    """The recorded time of the tenant's latest fact (None without facts).

    Raises:
        AnalyticsUnavailable: the store cannot be read.
    """
    rows = store.query("SELECT max(at_ms) FROM facts WHERE tenant = ?", [tenant])
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
