"""Logs and metrics for every Helios process.

Logs: structlog, one JSON object per line (or a console rendering on a terminal), with the
context variables bound per request (``request_id``, ``correlation_id``) merged into every line.

Metrics: a small registry rendered in the Prometheus text exposition format (version 0.0.4).
Counters and histograms only, labels as tuples; hand-written because the API needs three
metrics and the exposition format is a few lines, not worth a dependency.
"""

from __future__ import annotations

import bisect
import logging
import sys
import threading
from collections.abc import Iterable, Sequence

import structlog

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def configure_logging(*, log_format: str = "json", level: str = "info") -> None:
    """Configure structlog for the process (idempotent)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


class Counter:
    """A monotonically increasing count per label values."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} counter"
        for values, count in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(count)}"


class Histogram:
    """Observations counted in cumulative buckets, per label values."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str],
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
    ) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *label_values: str) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(label_values)
            if series is None:
                series = self._series[label_values] = ([0] * (len(self.buckets) + 1), [0.0])
            series[0][index] += 1
            series[1][0] += value

    def count(self, *label_values: str) -> int:
        series = self._series.get(label_values)
        return sum(series[0]) if series else 0

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} histogram"
        names = (*self.labels, "le")
        for values, (counts, total) in sorted(self._series.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else _number(bound)
                yield f"{self.name}_bucket{_labels(names, (*values, le))} {cumulative}"
            yield f"{self.name}_sum{_labels(self.labels, values)} {_number(total[0])}"
            yield f"{self.name}_count{_labels(self.labels, values)} {cumulative}"


class Gauge:
    """A value that goes up and down, per label values."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def set(self, value: float, *label_values: str) -> None:
        with self._lock:
            self._values[label_values] = value

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} gauge"
        for values, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(value)}"


class AnalyticsMetrics:
    """The analytics worker's metrics: how far behind the log it is, what it loaded."""

    def __init__(self) -> None:
        self.lag_positions = Gauge(
            "helios_analytics_lag_positions",
            "Log entries recorded but not yet loaded into the analytics store.",
        )
        self.queue_depth = Gauge(
            "helios_analytics_queue_depth",
            "Decisions waiting on the analytics queue.",
        )
        self.loaded = Counter(
            "helios_analytics_facts_total", "Facts loaded into the analytics store.", ()
        )
        self.publish_latency = Histogram(
            "helios_analytics_publish_duration_seconds",
            "Time to compute and publish every touched tenant's documents.",
            (),
        )

    def render(self) -> bytes:
        lines: list[str] = []
        for metric in (self.lag_positions, self.queue_depth, self.loaded, self.publish_latency):
            lines.extend(metric.render())
        return ("\n".join(lines) + "\n").encode("utf-8")


class Metrics:
    """The metrics one API process exposes on ``/metrics``."""

    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self.request_latency = Histogram(
            "helios_http_request_duration_seconds",
            "Time from request start to response start, by route and status.",
            ("method", "route", "status"),
        )
        self.envelopes = Counter(
            "helios_envelopes_total",
            "Ingestion requests by source and outcome (accepted, duplicate, rejected, ...).",
            ("source", "outcome"),
        )
        self.queue_errors = Counter(
            "helios_queue_errors_total",
            "Envelopes the queue could not take (the client got 503).",
            ("queue", "error"),
        )

    def render(self) -> bytes:
        lines: list[str] = []
        for metric in (self.request_latency, self.envelopes, self.queue_errors):
            lines.extend(metric.render())
        return ("\n".join(lines) + "\n").encode("utf-8")


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))
