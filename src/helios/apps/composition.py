"""The composition root: the only place where adapters are chosen, from ``Settings``.

Every process (API, workers, scheduler, ``helios up``) builds its services here, so the
embedded default and production differ only by configuration, never by code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import anyio.to_thread
import attrs

from helios.adapters.blobs import FileBlobStore
from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.key_file import PrivateJsonFile
from helios.adapters.memory.limits import InMemoryIdempotencyStore, InMemoryRateLimiter
from helios.adapters.read_models import open_sql_read_models
from helios.adapters.sqlite_checkpoints import WalCheckpointer
from helios.adapters.sqlite_memory import limit_sqlite_memory
from helios.adapters.store import factory
from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.shared_log import SharedLog
from helios.apps.settings import InvalidSetting, Settings
from helios.apps.views.schema import install
from helios.ports.analytics import AnalyticsStore
from helios.ports.event_store import EventStore, LogEntry, LogReader
from helios.ports.http import HttpFetcher
from helios.ports.idempotency import IdempotencyStore
from helios.ports.mailer import Mailer
from helios.ports.queue import BlobStore, Queue
from helios.ports.rate_limit import RateLimiter
from helios.ports.read_models import ReadModels
from helios.ports.secrets import SecretVault


def memory_vault() -> SecretVault:
    """A vault in memory under a random key: for services built without settings (tests)."""
    from helios.adapters.secrets.envelope import EnvelopeVault, LocalKek
    from helios.adapters.secrets.stores import InMemorySecretStore

    return EnvelopeVault(InMemorySecretStore(), LocalKek(os.urandom(32)))


@attrs.define
class Services:
    settings: Settings
    store: EventStore
    queue: Queue
    blobs: BlobStore
    limiter: RateLimiter
    idempotency: IdempotencyStore
    secrets: SecretVault = attrs.field(factory=memory_vault)


def open_store(settings: Settings) -> EventStore:
    """The event store named by the settings (the SQLite default creates its directory)."""
    url = settings.effective_store_url
    if url.startswith("sqlite:"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return factory.open_event_store(url)


def shared_log(store: EventStore, *, entries: int) -> LogReader:
    """What the followers of one process read the log through: each entry read once and
    decoded at most once for all of them (``entries`` recent ones kept; 0 reads the store)."""
    if entries < 1 or not isinstance(store, RecorderEventStore):
        return store
    return SharedLog(store, entries=entries)


def observe_appends(
    store: EventStore, observer: Callable[[Sequence[LogEntry], int], None]
) -> Callable[[], None] | None:
    """Have ``observer(entries, before)`` told of every batch ``store`` commits in this process,
    right after the commit: its domain events as the log shows them, and the position just
    before them. Returns what stops it, or None if the store cannot tell."""
    if not isinstance(store, RecorderEventStore):
        return None
    return store.observe_appends(observer)


def open_event_store(url: str) -> EventStore:
    """The event store at ``url`` (``memory://``, ``sqlite:path``, ``postgresql://…``).

    Raises:
        ValueError: the URL's scheme is not supported.
        StoreUnavailable: the store cannot be reached, or a PostgreSQL schema is missing.
    """
    return factory.open_event_store(url)


def migrate_store(url: str) -> None:
    """Create the event store's schema at ``url`` if missing (idempotent).

    Raises:
        ValueError: the URL's scheme is not supported.
        StoreUnavailable: the store cannot be reached.
    """
    factory.migrate(url)


def open_secret_vault(settings: Settings) -> SecretVault:
    """Where integration secrets are sealed: the secret store of the settings, under their
    key-encryption key (or, when none is set, one kept in a 0600 file of the data directory).

    Raises:
        InvalidSetting: the KEK setting is not 32 bytes of base64; or none is set, the secret
            store is shared and the data directory holds no key file.
        ValueError: the URL is not supported.
        SecretUnavailable: the secret store cannot be reached.
    """
    from helios.adapters.secrets.envelope import EnvelopeVault, LocalKek, parse_kek
    from helios.adapters.secrets.stores import open_secret_store

    text = settings.secrets_kek or _local_kek(settings)
    try:
        kek = parse_kek(text)
    except ValueError as error:
        raise InvalidSetting(f"HELIOS_SECRETS_KEK: {error}") from None
    return EnvelopeVault(open_secret_store(settings.effective_secrets_url), LocalKek(kek))


def _local_kek(settings: Settings) -> str:
    """The KEK of the data directory's key file, created on first use of a local secret store.

    Raises:
        InvalidSetting: there is no key file and the secret store is shared: a key made here
            would be this process's alone (other tasks, or this one after a restart on a fresh
            disk, could not unwrap what it seals).
    """
    from helios.adapters.secrets.envelope import new_kek_text

    keyring = key_file(settings, "secrets-kek.json")
    text = keyring.read().get("kek", "")
    if text:
        return text
    if settings.shares_secrets:
        raise InvalidSetting(
            "HELIOS_SECRETS_KEK is not set: the secret store is shared "
            f"({settings.effective_secrets_url.partition(':')[0]}), so every process needs the "
            "same key-encryption key (32 bytes in base64)"
        )
    text = new_kek_text()
    keyring.write({"kek": text})
    # On stderr as a JSON line: commands print their results on stdout.
    notice = {
        "level": "warning",
        "event": "created a key-encryption key in the data directory; set "
        "HELIOS_SECRETS_KEK (or use a KMS) in production",
        "path": str(keyring.path),
    }
    print(json.dumps(notice), file=sys.stderr)
    return text


def open_blobs(settings: Settings) -> BlobStore:
    """Where payloads too large for a queue message are kept (a directory of the settings)."""
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    return FileBlobStore(settings.blob_dir)


def open_fetcher() -> HttpFetcher:
    """The HTTPS client that visits SNS subscription URLs (the system's CAs)."""
    from helios.adapters.https_fetcher import HttpsFetcher

    return HttpsFetcher()


@attrs.frozen(kw_only=True)
class ProvisionedQueue:
    """A queue ``create_sqs_queues`` made sure exists."""

    name: str
    url: str
    dead_letter_url: str


async def create_sqs_queues(settings: Settings, names: tuple[str, ...]) -> list[ProvisionedQueue]:
    """Create the SQS queues ``names`` and their dead-letter queues (idempotent).

    The SQS client's own errors (endpoint unreachable, access denied) propagate: provisioning
    is an operator's command, whose traceback names the cause.
    """
    from helios.adapters.sqs.connection import SqsSettings, sqs_client
    from helios.adapters.sqs.provisioning import create_queues

    client_settings = SqsSettings(
        endpoint_url=settings.sqs_endpoint_url,
        region=settings.aws_region,
        prefix=settings.sqs_prefix,
    )
    created: list[ProvisionedQueue] = []
    async with sqs_client(client_settings) as client:
        for name in names:
            urls = await create_queues(
                client, prefix=settings.sqs_prefix, name=name, fifo=is_fifo(settings, name)
            )
            created.append(
                ProvisionedQueue(name=name, url=urls.main, dead_letter_url=urls.dead_letter)
            )
    return created


def key_file(settings: Settings, name: str) -> PrivateJsonFile:
    """The keyring ``name`` in the data directory (first-start credentials, 0600)."""
    return PrivateJsonFile(settings.data_dir / name)


def open_read_models(url: str) -> ReadModels:
    """The read-model database at ``url``, its tables created or upgraded (blocking).

    Raises:
        ValueError: unsupported URL.
        StoreUnavailable: the database cannot be reached.
    """
    db = open_sql_read_models(url)
    try:
        install(db)
    except BaseException:
        db.close()
        raise
    return db


def open_checkpointer(settings: Settings) -> WalCheckpointer | None:
    """What checkpoints the store's and the read models' WALs when they are SQLite files (the
    embedded default), not started; None when neither is."""
    urls = (settings.effective_store_url, settings.effective_read_models_url)
    paths = [factory.sqlite_path(url) for url in urls if url.startswith("sqlite:")]
    return WalCheckpointer(paths) if paths else None


def open_analytics_store(settings: Settings) -> AnalyticsStore:
    """The analytics worker's DuckDB file (blocking; one process at a time holds it).

    Raises:
        AnalyticsUnavailable: the file cannot be opened.
    """
    from helios.adapters.duckdb_analytics import DuckDbAnalytics

    return DuckDbAnalytics(
        settings.effective_analytics_path,
        memory_mb=settings.analytics_memory_mb,
        threads=settings.analytics_threads,
    )


def open_memory_analytics() -> AnalyticsStore:
    """An analytics store in memory (an on-demand report while the worker holds the file)."""
    from helios.adapters.duckdb_analytics import DuckDbAnalytics

    return DuckDbAnalytics(":memory:")


def open_mailer(settings: Settings) -> Mailer:
    """SMTP when a relay is configured; otherwise emails are only logged, and not kept
    (embedded default)."""
    if settings.smtp_host:
        from helios.adapters.smtp import SmtpMailer

        return SmtpMailer(host=settings.smtp_host, port=settings.smtp_port)
    from helios.adapters.memory.mailer import LogMailer

    return LogMailer()


def is_fifo(settings: Settings, name: str) -> bool:
    """Whether queue ``name`` is a FIFO queue: the ingest queue with HELIOS_SQS_FIFO. Other
    queues (analytics) have no decision that depends on another worker's, so stay standard."""
    return settings.sqs_fifo and name == "ingest"


@asynccontextmanager
async def open_queue(
    settings: Settings, blobs: BlobStore, *, name: str = "ingest"
) -> AsyncIterator[Queue]:
    """A queue by name (``ingest``, ``analytics``): a durable SQLite file by default, or SQS."""
    if settings.queue == "sqs":
        from helios.adapters.sqs.connection import SqsSettings, open_sqs_queue

        sqs = SqsSettings(
            endpoint_url=settings.sqs_endpoint_url,
            region=settings.aws_region,
            prefix=settings.sqs_prefix,
            name=name,
            fifo=is_fifo(settings, name),
        )
        async with open_sqs_queue(sqs, blob_store=blobs) as queue:
            yield queue
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The ingest queue's senders (the API) commit to a file of their own, so that accepting
    # never waits for the worker's lock on the queue's file (``embedded_intake``).
    async with EmbeddedQueue(
        path=settings.queue_path,
        name=name,
        min_free_bytes=settings.queue_min_free_bytes,
        intake_path=settings.intake_path if name == "ingest" else None,
    ) as queue:
        yield queue


@asynccontextmanager
async def open_local_idempotency(settings: Settings) -> AsyncIterator[IdempotencyStore]:
    """Idempotency keys without Redis: in the API's intake file, where its accepted messages
    are, so that a restart keeps them together and no key waits for the worker's lock on the
    queue's file; in memory only when the queue is SQS (no local file to share)."""
    if settings.queue == "sqs":
        yield InMemoryIdempotencyStore()
        return
    from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with SqliteIdempotencyStore(path=settings.intake_path) as store:
        yield store


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open every service a process may need; all are closed on exit."""
    if settings.sqlite_memory_mb:
        # Process-wide: every SQLite connection opened here (store, queue, read models,
        # idempotency keys) shares it.
        limit_sqlite_memory(settings.sqlite_memory_mb * 2**20)
    async with AsyncExitStack() as stack:
        store = await anyio.to_thread.run_sync(open_store, settings)
        stack.callback(store.close)
        blobs = open_blobs(settings)
        queue = await stack.enter_async_context(open_queue(settings, blobs))
        limiter: RateLimiter
        idempotency: IdempotencyStore
        if settings.redis_url:
            from helios.adapters.redis.connection import connect
            from helios.adapters.redis.idempotency import RedisIdempotencyStore
            from helios.adapters.redis.rate_limit import RedisRateLimiter

            client = connect(settings.redis_url)
            stack.push_async_callback(client.aclose)
            limiter = RedisRateLimiter(client)
            idempotency = RedisIdempotencyStore(client)
        else:
            limiter = InMemoryRateLimiter()
            idempotency = await stack.enter_async_context(open_local_idempotency(settings))
        secrets = await anyio.to_thread.run_sync(open_secret_vault, settings)
        yield Services(
            settings=settings,
            store=store,
            queue=queue,
            blobs=blobs,
            limiter=limiter,
            idempotency=idempotency,
            secrets=secrets,
        )
