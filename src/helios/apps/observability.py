"""Logs and metrics for every Helios process.

Logs: structlog, one JSON object per line (or a console rendering on a terminal), with the
context variables bound per request (``request_id``, ``correlation_id``) merged into every line.

Metrics: a small registry rendered in the Prometheus text exposition format (version 0.0.4).
Counters, gauges and histograms, labels as tuples; hand-written because the API needs a handful
of metrics and the exposition format is a few lines, not worth a dependency. The gauges say how
far behind the system is (queue backlog, followers' lag); ``infra/monitoring/alerts.yml`` alerts
on them.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import orjson
import structlog

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


LOG_WRITE_WINDOW_S = 0.05
"""How long a line logged on a batching event loop may wait for the lines after it."""


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a
    process (or a test run) that swaps stderr after configuring must not leave every logger
    writing to a closed file.

    Inside ``log_writes_batched`` the lines logged on that event loop's thread wait up to
    ``window_s`` and are written together (one ``write`` for every request answered meanwhile,
    rather than one each); a line of any other thread writes what is waiting first, so each
    thread's lines keep their order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._window_s = LOG_WRITE_WINDOW_S
        self._waiting: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            if self._loop is not None and asyncio._get_running_loop() is self._loop:
                self._waiting.append(text)
                if len(self._waiting) == 1:
                    self._loop.call_later(self._window_s, self.write_waiting)
                return len(text)
            self._write_waiting()
            return sys.stderr.write(text)

    def flush(self) -> None:
        if not self._waiting:
            sys.stderr.flush()

    def write_waiting(self) -> None:
        """Write the lines waiting, now."""
        with self._lock:
            self._write_waiting()
        sys.stderr.flush()

    def _write_waiting(self) -> None:
        if self._waiting:
            lines, self._waiting = self._waiting, []
            sys.stderr.write("".join(lines))

    @contextlib.contextmanager
    def batched(self, window_s: float) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not None:
                raise RuntimeError("log writes are already batched on another event loop")
            self._loop, self._window_s = loop, window_s
        try:
            yield
        finally:
            with self._lock:
                self._loop = None
            self.write_waiting()


_STDERR = _CurrentStderr()


def log_writes_batched(
    window_s: float = LOG_WRITE_WINDOW_S,
) -> contextlib.AbstractContextManager[None]:
    """While open, the log lines of the running event loop's thread wait at most ``window_s``
    and are written together, rather than with one ``write`` each: a process answering
    requests logs a line per request, and under load the system calls were about 6 % of the
    API's main thread. Closing writes what waits; other threads write as before (after what
    waits). A ``kill -9`` loses at most the last ``window_s`` of the loop's lines."""
    return _STDERR.batched(window_s)


def _json_line(event: Mapping[str, object], **_: object) -> str:
    """One log line's JSON, compact, by orjson: the access line every request writes costs
    about 30 % less than with ``json.dumps`` (14 against 20 µs). Values orjson does not know
    become their ``str``; what it refuses outright (an integer past 64 bits) goes to
    ``json.dumps``: a log call never fails on a value."""
    try:
        return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event, default=str)


def configure_logging(*, log_format: str = "json", level: str = "info") -> None:
    """Configure structlog for the process (idempotent)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
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
        logger_factory=structlog.WriteLoggerFactory(file=_STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


class _Series:
    """Values per label values, rendered as one metric family of type ``KIND``."""

    KIND = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} {self.KIND}"
        for values, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(value)}"


class Counter(_Series):
    """A monotonically increasing count per label values."""

    KIND = "counter"

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)


class Gauge(_Series):
    """A value that goes up and down, per label values; set whole on each scrape."""

    KIND = "gauge"

    def set(self, value: float | None, *label_values: str) -> None:
        """Set the value; None removes the series (unknown, rather than a misleading 0)."""
        with self._lock:
            if value is None:
                self._values.pop(label_values, None)
            else:
                self._values[label_values] = float(value)

    def value(self, *label_values: str) -> float | None:
        return self._values.get(label_values)


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


class BacklogLike(Protocol):
    @property
    def depth(self) -> int: ...
    @property
    def oldest_age_s(self) -> float | None: ...
    @property
    def dead_letters(self) -> int: ...


class OutboxLike(Protocol):
    @property
    def by_status(self) -> Mapping[str, int]: ...
    @property
    def oldest_pending_created_at(self) -> int | None: ...


class HealthLike(Protocol):
    """What ``Metrics.set_health`` reads (``helios.apps.application.health.Health``)."""

    @property
    def backlog(self) -> BacklogLike | None: ...
    @property
    def log_head(self) -> int | None: ...
    @property
    def follower_positions(self) -> Mapping[str, int] | None: ...
    @property
    def notifications(self) -> OutboxLike | None: ...
    @property
    def analytics_lag(self) -> int | None: ...
    def lag(self, follower: str) -> int | None: ...


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
            "Ingestion requests by source and outcome: accepted, duplicate, replayed,"
            " queue_unavailable; refused: rejected, unauthorized, rate_limited, timeout.",
            ("source", "outcome"),
        )
        self.queue_errors = Counter(
            "helios_queue_errors_total",
            "Envelopes the queue could not take (the client got 503).",
            ("queue", "error"),
        )

        self.queue_depth = Gauge(
            "helios_queue_depth",
            "Messages accepted and not yet processed (in flight included), by queue.",
            ("queue",),
        )
        self.queue_oldest_age = Gauge(
            "helios_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in the queue (embedded queue; SQS: CloudWatch).",
            ("queue",),
        )
        self.dead_letters = Gauge(
            "helios_queue_dead_letters",
            "Messages in the queue's dead-letter queue (see 'helios dlq list').",
            ("queue",),
        )
        self.log_head = Gauge(
            "helios_event_log_head_position",
            "The event log's last position.",
            (),
        )
        self.follower_lag = Gauge(
            "helios_follower_lag_events",
            "Log entries a follower (projector, notifier, fanout, ...) has yet to process.",
            ("follower",),
        )
        self.notifications = Gauge(
            "helios_notifications",
            "Notifications in the outbox by status: pending, sent, failed (gave up).",
            ("status",),
        )
        self.oldest_pending_notification = Gauge(
            "helios_notification_oldest_pending_age_seconds",
            "How long the oldest unsent notification has waited (mail relay down or slow).",
            (),
        )
        self.analytics_lag = Gauge(
            "helios_analytics_lag_events",
            "Log entries recorded since what analytics last published had loaded (an upper"
            " bound; grows while the analytics worker is stopped).",
        )
        self.dependency_up = Gauge(
            "helios_dependency_up",
            "1 when the last scrape could read the dependency (store, queue, read_models).",
            ("dependency",),
        )

    def set_health(self, health: HealthLike) -> None:
        """Set the gauges from a reading of the system's backlog and lag."""
        backlog = health.backlog
        self.queue_depth.set(None if backlog is None else backlog.depth, "ingest")
        self.queue_oldest_age.set(None if backlog is None else backlog.oldest_age_s, "ingest")
        self.dead_letters.set(None if backlog is None else backlog.dead_letters, "ingest")
        self.log_head.set(health.log_head)
        for follower in health.follower_positions or {}:
            self.follower_lag.set(health.lag(follower), follower)
        outbox = health.notifications
        for status in ("pending", "sent", "failed"):
            self.notifications.set(
                None if outbox is None else outbox.by_status.get(status, 0), status
            )
        oldest = None if outbox is None else outbox.oldest_pending_created_at
        self.oldest_pending_notification.set(
            None if oldest is None else max(0.0, (time.time_ns() // 1_000_000 - oldest) / 1000)
        )
        self.analytics_lag.set(health.analytics_lag)
        for name, known in (
            ("queue", backlog is not None),
            ("store", health.log_head is not None),
            ("read_models", health.follower_positions is not None),
        ):
            self.dependency_up.set(1 if known else 0, name)

    def render(self) -> bytes:
        lines: list[str] = []
        for metric in (
            self.request_latency,
            self.envelopes,
            self.queue_errors,
            self.queue_depth,
            self.queue_oldest_age,
            self.dead_letters,
            self.log_head,
            self.follower_lag,
            self.notifications,
            self.oldest_pending_notification,
            self.analytics_lag,
            self.dependency_up,
        ):
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
