"""Configuration from environment variables: the one table of every setting.

| variable | default | meaning |
| --- | --- | --- |
| HELIOS_DATA_DIR | .helios | where the embedded default keeps its files |
| HELIOS_STORE_URL | sqlite:<data dir>/helios.db | memory://, sqlite:path or postgresql://… |
| HELIOS_QUEUE | embedded | ingest queue: ``embedded`` (SQLite file) or ``sqs`` |
| HELIOS_QUEUE_MIN_FREE_MB | 32 | embedded queue: free space its disk must keep; below it sends |
|  |  | get 503 and /readyz says not ready (0: only a failing write counts) |
| HELIOS_SQS_ENDPOINT_URL | (AWS) | an SQS-compatible endpoint, e.g. http://127.0.0.1:55005 |
| HELIOS_SQS_PREFIX | helios- | queue name prefix (the same names Terraform creates) |
| HELIOS_SQS_FIFO | false | ``true``: the ingest queue and its dead-letter queue are FIFO |
|  |  | (``<prefix>ingest.fifo``), one message group per tenant, so one tenant's envelopes and |
|  |  | ticks are decided by one worker at a time, in order (needs HELIOS_QUEUE=sqs) |
| AWS_REGION / AWS_DEFAULT_REGION | us-east-1 | SQS region |
| HELIOS_REDIS_URL | (none: local) | Redis for rate limits and idempotency keys; none: limits in |
|  |  | process, keys in the embedded queue's file (in process with HELIOS_QUEUE=sqs) |
| HELIOS_HTTP_HOST | 127.0.0.1 | API bind address |
| HELIOS_HTTP_PORT | 8080 | API port |
| HELIOS_SMTP_HOST / HELIOS_SMTP_PORT | (none) / 25 | SMTP relay for notifications; none: log only |
| HELIOS_SMTP_FROM | helios@localhost | sender address of notifications |
| HELIOS_LOG_FORMAT | console on a terminal, else json | ``json`` or ``console`` |
| HELIOS_LOG_LEVEL | info | debug, info, warning, error |
| HELIOS_READ_MODELS_URL | (see meaning) | read models and notification outbox: default |
|  |  | sqlite:<data dir>/readmodels.db, or schema helios_read of a PostgreSQL store |
| HELIOS_PUBLIC_URL | http://<http host>:<http port> | base of links in notifications |
| HELIOS_NOTIFY_TO | oncall@localhost | recipient of notification emails |
| HELIOS_WORKER_CONCURRENCY | 1 | ingest consumers per process (CPU-bound: scale with processes) |
| HELIOS_WORKER_BATCH | 500 | most envelopes per store transaction |
| HELIOS_WORKER_BATCH_BYTES | 2000000 | most bytes of bodies decided per store transaction (a |
|  |  | batch of large bodies is decided in several, bounding the worker's memory) |
| HELIOS_WORKER_WAIT_S | 5 | long-poll wait of one receive (SQS caps it at 20) |
| HELIOS_WORKER_VISIBILITY_S | 60 | visibility of received messages (extended for slow batches) |
| HELIOS_UP_WORKER_NICENESS | 19 | how much lower ``helios up``'s worker child's CPU priority is |
|  |  | than the API child's, 0 to 19 (see ``embedded.runner.lower_cpu_priority``) |
| HELIOS_UP_API_CPUS | one | the CPUs ``helios up``'s API child keeps to: ``one`` (the one it |
|  |  | starts on, when it may run on two or more), ``any`` (the scheduler decides) or a list |
|  |  | such as ``0,2-3`` (see ``embedded.cpus``) |
| HELIOS_UP_PROJECTOR_CHILD | false | ``true``: ``helios up`` runs the projector in a child |
|  |  | process of its own, beside the worker's: a burst is listed sooner on two cores, for one |
|  |  | more process's memory (docs/operations.md) |
| HELIOS_PROJECT_FROM_LOG | false | ``true``: the projector only follows the log; by default a |
|  |  | batch the worker of the same process commits is projected from its events at once |
|  |  | (no log read), the follower projecting what that did not (docs/operations.md) |
| HELIOS_SNAPSHOT_EVERY | 100 | snapshot an alert or incident group each this many events of its |
|  |  | stream, so a cold load reads fewer than this many (0: no snapshots) |
| HELIOS_STATE_CACHE | 5000 | alert and incident-group states the ingest worker keeps in |
|  |  | memory (the most recently used); another is loaded from its latest snapshot and the |
|  |  | events after it (fewer than HELIOS_SNAPSHOT_EVERY) |
| HELIOS_FOLLOWER_CACHE | 2500 | alerts whose state, stream name and written labels each log |
|  |  | follower (projector, notifier, fan-out) keeps in memory; the others are read back |
| HELIOS_FOLLOWER_WINDOW | 10000 | recent log entries the followers of a worker share, each read |
|  |  | once and decoded at most once for all of them (0: each follower reads its own) |
| HELIOS_FOLLOWER_POLL_S | 0.5 | how often an idle follower looks for new log entries |
| HELIOS_IDLE_TRIM_S | 5 | seconds without new log entries after work before a worker gives |
|  |  | freed memory back to the system (gc + malloc_trim, at most every 30 s; 0: never) |
| HELIOS_SQLITE_MEMORY_MB | 8 | memory SQLite may keep in each process, the page caches of all |
|  |  | its connections together, before they reuse their oldest pages (0: no limit) |
| HELIOS_TICK_INTERVAL_S | 30 | how often the scheduler sends ticks for open alerts |
| HELIOS_SESSION_TTL_S | 3600 | lifetime of a session token issued by a password login |
| HELIOS_LOGIN_MAX_FAILURES | 5 | wrong passwords from one address for one email before a lockout |
| HELIOS_LOGIN_LOCKOUT_S | 900 | a locked-out address gets one attempt per this many seconds |
| HELIOS_AUTH_CACHE_S | 1 | how long an API process trusts its cached users and tokens (a |
|  |  | revocation or role change takes effect within it) |
| HELIOS_RECENT_CHANGES_WINDOW_S | 3600 | an alert's detail shows the changes of its service made |
|  |  | within this long before its episode started |
| HELIOS_SECRETS_URL | (see meaning) | where sealed integration secrets are kept: default |
|  |  | sqlite:<data dir>/secrets.db, schema <store schema>_secrets of a PostgreSQL store |
| HELIOS_SECRETS_KEK | (key file) | key-encryption key: 32 bytes in base64; unset: a key kept |
|  |  | in <data dir>/secrets-kek.json (0600), created on first use; required when the |
|  |  | secret store is shared (PostgreSQL) and that file does not exist yet |
| HELIOS_ANALYTICS_PATH | <data dir>/analytics.duckdb | the analytics worker's DuckDB file (only |
|  |  | that worker opens it; derived, rebuilt with ``helios analytics rebuild``) |
| HELIOS_ANALYTICS_PUBLISH_S | 30 | how often the analytics worker publishes overview, trends |
|  |  | and suggestions to the read models (also whenever its queue runs dry) |
| HELIOS_LIVE_STREAM_S | 300 | how long one ``/v1/live`` event stream stays open before the |
|  |  | client reconnects (with ``Last-Event-ID``, so nothing is missed) |
| HELIOS_ANALYTICS_MEMORY_MB | 64 | memory the analytics worker's DuckDB may use (the rest spills |
|  |  | to disk beside its file; DuckDB's own default is 80 % of the machine); 64 fits the |
|  |  | publications at 100,000 open alerts, 256 kept ~45 MiB more for ~25 % less CPU each |
| HELIOS_ANALYTICS_RELEASE_S | 10 | seconds the analytics worker waits without a new decision |
|  |  | before it closes its DuckDB file, giving back its buffers (up to |
|  |  | HELIOS_ANALYTICS_MEMORY_MB); its next use opens it again (0: kept open) |
| HELIOS_ANALYTICS_THREADS | 1 | threads of the analytics worker's DuckDB queries |
| HELIOS_ANALYTICS_BATCH | 2000 | decisions the analytics worker receives and loads at a time |
|  |  | (one DuckDB insert each: 2,000 cost half the CPU of 500 per decision) |
| HELIOS_API_* |  | the ingestion API's limits: see ``helios.apps.http.config`` |
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

from helios.apps.embedded import cpus

DEFAULT_QUEUE_MIN_FREE_MB = 32
"""Room the embedded queue leaves on its disk: headroom for the worker's writes to the store
(usually on the same disk) and for SQLite's own journal (no guarantee for any backlog)."""


class InvalidSetting(ValueError):
    """An environment variable has a value Helios cannot use; the message names it."""


@attrs.frozen(kw_only=True)
class Settings:
    data_dir: Path = Path(".helios")
    store_url: str = ""
    queue: str = "embedded"
    queue_min_free_bytes: int = DEFAULT_QUEUE_MIN_FREE_MB * 1024 * 1024
    sqs_endpoint_url: str | None = None
    sqs_prefix: str = "helios-"
    sqs_fifo: bool = False
    aws_region: str = "us-east-1"
    redis_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "helios@localhost"
    log_format: str = "json"
    log_level: str = "info"
    read_models_url: str = ""
    public_url: str = ""
    notify_to: str = "oncall@localhost"
    worker_concurrency: int = 1
    worker_batch: int = 500
    worker_batch_bytes: int = 2_000_000
    worker_wait_s: float = 5.0
    worker_visibility_s: int = 60
    up_worker_niceness: int = 19
    up_api_cpus: str = "one"
    up_projector_child: bool = False
    project_from_log: bool = False
    snapshot_every: int = 100
    state_cache: int = 5_000
    follower_cache: int = 2_500
    follower_window: int = 10_000
    follower_poll_s: float = 0.5
    idle_trim_s: float = 5.0
    sqlite_memory_mb: int = 8
    tick_interval_s: float = 30.0
    session_ttl_s: int = 3600
    login_max_failures: int = 5
    login_lockout_s: int = 900
    auth_cache_s: float = 1.0
    recent_changes_window_s: int = 3600
    live_stream_s: float = 300.0
    secrets_url: str = ""
    secrets_kek: str = attrs.field(default="", repr=False)

    @property
    def effective_secrets_url(self) -> str:
        if self.secrets_url:
            return self.secrets_url
        store = self.effective_store_url
        if store.startswith(("postgresql:", "postgres:")):
            base, _, query = store.partition("?")
            schema = dict(p.partition("=")[::2] for p in query.split("&") if p).get(
                "schema", "helios"
            )
            return f"{base}?schema={schema}_secrets"
        if store.startswith("memory:"):
            return "memory://"
        return f"sqlite:{self.data_dir / 'secrets.db'}"

    @property
    def shares_secrets(self) -> bool:
        """Whether sealed secrets live where other processes read them (not a file of the data
        directory, nor memory): then every process must unwrap them with the same KEK."""
        return not self.effective_secrets_url.startswith(("sqlite:", "memory:"))

    analytics_path: str = ""
    analytics_publish_s: float = 30.0
    analytics_memory_mb: int = 64
    analytics_threads: int = 1
    analytics_release_s: float = 10.0
    analytics_batch: int = 2_000

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:{self.data_dir / 'helios.db'}"

    @property
    def effective_read_models_url(self) -> str:
        if self.read_models_url:
            return self.read_models_url
        store = self.effective_store_url
        if store.startswith(("postgresql:", "postgres:")):
            # Same database, own schema: one server to run, and rebuilds never touch the log.
            separator = "&" if "?" in store else "?"
            return f"{store.split('?')[0]}{separator}schema=helios_read"
        return f"sqlite:{self.data_dir / 'readmodels.db'}"

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.http_host}:{self.http_port}"

    @property
    def effective_analytics_path(self) -> Path:
        """The analytics worker's DuckDB file (private to it: derived, rebuildable)."""
        if self.analytics_path:
            return Path(self.analytics_path)
        return self.data_dir / "analytics.duckdb"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def intake_path(self) -> Path:
        """Where the API appends what it accepts, for the worker to move into the queue."""
        return self.data_dir / "intake.db"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment (see the module's table).

        Raises:
            InvalidSetting: a setting has an invalid value (the message names it).
        """
        values = os.environ if env is None else env
        queue = values.get("HELIOS_QUEUE", "embedded")
        if queue not in ("embedded", "sqs"):
            raise InvalidSetting(f"HELIOS_QUEUE must be 'embedded' or 'sqs', not {queue!r}")
        log_format = values.get("HELIOS_LOG_FORMAT") or (
            "console" if sys.stderr.isatty() else "json"
        )
        if log_format not in ("json", "console"):
            raise InvalidSetting(
                f"HELIOS_LOG_FORMAT must be 'json' or 'console', not {log_format!r}"
            )
        return cls(
            data_dir=Path(values.get("HELIOS_DATA_DIR", ".helios")),
            store_url=values.get("HELIOS_STORE_URL", ""),
            queue=queue,
            queue_min_free_bytes=max(
                0, _int(values, "HELIOS_QUEUE_MIN_FREE_MB", DEFAULT_QUEUE_MIN_FREE_MB)
            )
            * 1024
            * 1024,
            sqs_endpoint_url=values.get("HELIOS_SQS_ENDPOINT_URL") or None,
            sqs_prefix=values.get("HELIOS_SQS_PREFIX", "helios-"),
            sqs_fifo=_sqs_fifo(values, queue),
            aws_region=values.get("AWS_REGION") or values.get("AWS_DEFAULT_REGION") or "us-east-1",
            redis_url=values.get("HELIOS_REDIS_URL") or None,
            http_host=values.get("HELIOS_HTTP_HOST", "127.0.0.1"),
            http_port=_int(values, "HELIOS_HTTP_PORT", 8080),
            smtp_host=values.get("HELIOS_SMTP_HOST") or None,
            smtp_port=_int(values, "HELIOS_SMTP_PORT", 25),
            smtp_from=values.get("HELIOS_SMTP_FROM", "helios@localhost"),
            log_format=log_format,
            log_level=values.get("HELIOS_LOG_LEVEL", "info").lower(),
            read_models_url=values.get("HELIOS_READ_MODELS_URL", ""),
            public_url=values.get("HELIOS_PUBLIC_URL", ""),
            notify_to=values.get("HELIOS_NOTIFY_TO", "oncall@localhost"),
            worker_concurrency=max(1, _int(values, "HELIOS_WORKER_CONCURRENCY", 1)),
            worker_batch=max(1, _int(values, "HELIOS_WORKER_BATCH", 500)),
            worker_batch_bytes=max(1, _int(values, "HELIOS_WORKER_BATCH_BYTES", 2_000_000)),
            worker_wait_s=_float(values, "HELIOS_WORKER_WAIT_S", 5.0),
            worker_visibility_s=max(5, _int(values, "HELIOS_WORKER_VISIBILITY_S", 60)),
            up_worker_niceness=min(19, max(0, _int(values, "HELIOS_UP_WORKER_NICENESS", 19))),
            up_api_cpus=_api_cpus(values),
            up_projector_child=_flag(values, "HELIOS_UP_PROJECTOR_CHILD"),
            project_from_log=_flag(values, "HELIOS_PROJECT_FROM_LOG"),
            snapshot_every=max(0, _int(values, "HELIOS_SNAPSHOT_EVERY", 100)),
            state_cache=max(100, _int(values, "HELIOS_STATE_CACHE", 5_000)),
            follower_cache=max(100, _int(values, "HELIOS_FOLLOWER_CACHE", 2_500)),
            follower_window=max(0, _int(values, "HELIOS_FOLLOWER_WINDOW", 10_000)),
            follower_poll_s=_float(values, "HELIOS_FOLLOWER_POLL_S", 0.5),
            idle_trim_s=max(0.0, _float(values, "HELIOS_IDLE_TRIM_S", 5.0)),
            sqlite_memory_mb=max(0, _int(values, "HELIOS_SQLITE_MEMORY_MB", 8)),
            tick_interval_s=_float(values, "HELIOS_TICK_INTERVAL_S", 30.0),
            session_ttl_s=max(60, _int(values, "HELIOS_SESSION_TTL_S", 3600)),
            login_max_failures=max(1, _int(values, "HELIOS_LOGIN_MAX_FAILURES", 5)),
            login_lockout_s=max(1, _int(values, "HELIOS_LOGIN_LOCKOUT_S", 900)),
            auth_cache_s=_float(values, "HELIOS_AUTH_CACHE_S", 1.0),
            recent_changes_window_s=max(0, _int(values, "HELIOS_RECENT_CHANGES_WINDOW_S", 3600)),
            live_stream_s=max(0.1, _float(values, "HELIOS_LIVE_STREAM_S", 300.0)),
            secrets_url=values.get("HELIOS_SECRETS_URL", ""),
            secrets_kek=values.get("HELIOS_SECRETS_KEK", ""),
            analytics_path=values.get("HELIOS_ANALYTICS_PATH", ""),
            analytics_publish_s=max(0.0, _float(values, "HELIOS_ANALYTICS_PUBLISH_S", 30.0)),
            analytics_memory_mb=max(64, _int(values, "HELIOS_ANALYTICS_MEMORY_MB", 64)),
            analytics_threads=max(1, _int(values, "HELIOS_ANALYTICS_THREADS", 1)),
            analytics_release_s=max(0.0, _float(values, "HELIOS_ANALYTICS_RELEASE_S", 10.0)),
            analytics_batch=max(1, _int(values, "HELIOS_ANALYTICS_BATCH", 2_000)),
        )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(values: Mapping[str, str], name: str) -> bool:
    """A boolean setting, false when unset.

    Raises:
        InvalidSetting: neither true nor false.
    """
    raw = values.get(name, "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise InvalidSetting(f"{name} must be 'true' or 'false', not {raw!r}")
    return raw in _TRUE


def _sqs_fifo(values: Mapping[str, str], queue: str) -> bool:
    """HELIOS_SQS_FIFO as a boolean.

    Raises:
        InvalidSetting: not a boolean, or ``true`` without HELIOS_QUEUE=sqs (the embedded queue
            has no message groups: it would silently ignore the setting).
    """
    raw = values.get("HELIOS_SQS_FIFO", "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise InvalidSetting(f"HELIOS_SQS_FIFO must be 'true' or 'false', not {raw!r}")
    fifo = raw in _TRUE
    if fifo and queue != "sqs":
        raise InvalidSetting(
            f"HELIOS_SQS_FIFO=true needs HELIOS_QUEUE=sqs, not {queue!r} (FIFO routing is an SQS "
            "feature; the embedded queue is served by one worker process)"
        )
    return fifo


def _api_cpus(values: Mapping[str, str]) -> str:
    """``HELIOS_UP_API_CPUS``: ``one`` when unset.

    Raises:
        InvalidSetting: neither ``one``, ``any`` nor a CPU list.
    """
    raw = values.get("HELIOS_UP_API_CPUS", "").strip().lower() or cpus.ONE
    try:
        return cpus.check_setting("HELIOS_UP_API_CPUS", raw)
    except ValueError as error:
        raise InvalidSetting(str(error)) from None


def _int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidSetting(f"{name} must be an integer, not {raw!r}") from None


def _float(values: Mapping[str, str], name: str, default: float) -> float:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidSetting(f"{name} must be a number, not {raw!r}") from None
