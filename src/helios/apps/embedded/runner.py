"""What ``helios up`` and ``helios demo`` run: the API, the ingest worker, followers, scheduler
and the analytics worker — in one process on one event loop (``run_everything``), or each group
in a process of its own under a supervisor (``CHILD_ROLES``, ``run_child``)."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import structlog

from helios.apps.application.ingest import IngestReport
from helios.apps.application.provisioning import Provisioning
from helios.apps.composition import Services, key_file, open_services
from helios.apps.embedded.cpus import keep_api_to_cpus
from helios.apps.embedded.heap import settle_long_lived_heap
from helios.apps.embedded.supervisor import watch_parent
from helios.apps.observability import log_writes_batched
from helios.apps.settings import Settings
from helios.apps.workers.analytics import run_analytics
from helios.apps.workers.followers import Appended
from helios.apps.workers.ingest import Committed, IngestWorker
from helios.apps.workers.runtime import (
    ingest_worker,
    keep_checkpointed,
    run_followers,
    run_projector,
    run_scheduler,
    stop_on_signals,
)
from helios.domain.values import Envelope
from helios.ports.http import HttpFetcher
from helios.ports.mailer import Mailer

if TYPE_CHECKING:
    from helios.apps.http.config import ApiConfig

_log = structlog.get_logger(__name__)

API_FACTORY = "helios.apps.http.app:create_app"
INTEGRATION_FILE = "integration.json"
ACCESS_FILE = "access.json"


class ApiMissing(RuntimeError):
    """The HTTP API package is not installed in this build."""


def load_api_factory() -> Any:
    """``create_app(services)`` of the HTTP API, imported only when it is needed.

    Raises:
        ApiMissing: the API module or its factory does not exist.
    """
    module_name, _, attribute = API_FACTORY.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and not module_name.startswith(error.name):
            raise  # the API is there but a dependency of it is not: say so, do not hide it
        raise ApiMissing(f"the HTTP API ({API_FACTORY}) is not available: {error}") from error
    factory = getattr(module, attribute, None)
    if factory is None:
        raise ApiMissing(f"{module_name} has no {attribute}()")
    return factory


def api_wanted(args: Any) -> bool:
    """Whether a command's arguments ask for the HTTP API (``--no-api`` turns it off)."""
    return not getattr(args, "no_api", False)


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (checked before starting)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def first_start_integration(services: Services) -> tuple[dict[str, str], frozenset[str]]:
    """The default tenant's integrations, created on the first start only; their keys are
    kept in ``<data dir>/integration.json`` (0600). Returns (details, the names of the keys
    created now, to be shown once).

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    keyring = key_file(services.settings, INTEGRATION_FILE)
    return Provisioning(services.store).integrations(keyring)


def first_start_access(services: Services, tenant_id: str) -> tuple[dict[str, str], bool]:
    """A responder of the default tenant and a personal API token to read alerts with;
    created on the first start only and saved to ``<data dir>/access.json`` (0600).

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    keyring = key_file(services.settings, ACCESS_FILE)
    return Provisioning(services.store).responder(keyring, tenant_id)


async def access(services: Services, tenant_id: str) -> tuple[dict[str, str], bool]:
    """``first_start_access`` from async code."""
    return await anyio.to_thread.run_sync(first_start_access, services, tenant_id)


async def serve_api(services: Services, stop: asyncio.Event, *, freeze_heap: bool = False) -> None:
    """Serve ``create_app(services)`` with granian (or uvicorn, as ``HELIOS_API_SERVER``
    says) until ``stop`` is set. With ``freeze_heap`` (a process of its own), what start-up
    made is frozen before the first request and young collections
    run less often (``heap.settle_long_lived_heap``).

    Raises:
        ApiMissing: the API is not available.
    """
    factory = load_api_factory()
    from helios.apps.http.config import ApiConfig

    api = ApiConfig.from_env()
    app = factory(services, config=api)
    if freeze_heap:
        _log.info("up.heap_frozen", **settle_long_lived_heap())
    # An access line a request: written together, a window of them at a time.
    with log_writes_batched():
        await _serve(app, services.settings, stop, api)


async def _serve(app: Any, settings: Settings, stop: asyncio.Event, api: ApiConfig) -> None:
    """Serve ``app`` on the server ``api`` names until ``stop`` is set."""
    from helios.apps.http.server import granian_server, server_config

    if api.server == "granian":
        granian = granian_server(app, host=settings.http_host, port=settings.http_port, api=api)
        serving = asyncio.create_task(granian.serve())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        granian.stop()
        await serving
        return
    config = server_config(
        app, host=settings.http_host, port=settings.http_port, api=api, log_level="warning"
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await serving


class _Server:
    """uvicorn's server, minus its signal handling: this process handles SIGTERM itself."""

    def __new__(cls, config: Any) -> Any:
        import contextlib

        import uvicorn

        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign, assignment]
        return server


async def run_everything(
    services: Services,
    stop: asyncio.Event,
    *,
    api: bool = True,
    mailer: Mailer | None = None,
    on_committed: Committed | None = None,
    fetcher: HttpFetcher | None = None,
    projector: bool = True,
    freeze_heap: bool = False,
) -> IngestWorker:
    """API (optional), ingest worker, followers (the projector too unless told it runs
    elsewhere), scheduler and analytics until ``stop`` is set. The worker's commits wake the
    followers (rather than their next poll). With ``freeze_heap`` (a process of its own), what
    start-up made is frozen once the worker is built (``heap.settle_long_lived_heap``)."""
    appended = Appended()

    def committed(envelopes: Sequence[Envelope], report: IngestReport) -> None:
        appended.appended()
        if on_committed is not None:
            on_committed(envelopes, report)

    worker = ingest_worker(services, on_committed=committed, fetcher=fetcher)
    if freeze_heap:
        _log.info("up.heap_frozen", role="worker", **settle_long_lived_heap())
    jobs: list[Awaitable[object]] = [
        worker.run(stop),
        run_followers(services, stop, mailer=mailer, appended=appended, projector=projector),
        run_scheduler(services, stop),
        run_analytics(services, stop, mailer=mailer),
        keep_checkpointed(services, stop),
    ]
    if api:
        jobs.append(serve_api(services, stop))
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        stop.set()
        for task in tasks:
            task.cancel()
        raise
    return worker


async def integration(services: Services) -> tuple[dict[str, str], frozenset[str]]:
    """``first_start_integration`` from async code."""
    return await anyio.to_thread.run_sync(first_start_integration, services)


async def run_workers(
    services: Services, stop: asyncio.Event, *, freeze_heap: bool = False
) -> None:
    """The worker side of ``helios up``: ingest worker, followers, scheduler and analytics
    (the projector in a child of its own with ``HELIOS_UP_PROJECTOR_CHILD``); ``freeze_heap``
    as ``run_everything`` says."""
    elsewhere = services.settings.up_projector_child
    await run_everything(
        services, stop, api=False, projector=not elsewhere, freeze_heap=freeze_heap
    )


async def run_workers_child(services: Services, stop: asyncio.Event) -> None:
    """The worker side of ``helios up`` in a process of its own, its start-up heap frozen:
    the ingest worker's allocations trigger full collections too, and each walked the whole
    start-up heap (about 8 µs of collection per alert measured, see ``heap``)."""
    await run_workers(services, stop, freeze_heap=True)


async def serve_api_child(services: Services, stop: asyncio.Event) -> None:
    """The API side of ``helios up``: ``serve_api`` in a process of its own, its start-up
    heap frozen (full collections no longer walk it, see ``heap``)."""
    await serve_api(services, stop, freeze_heap=True)


CHILD_ROLES: dict[str, Callable[[Services, asyncio.Event], Awaitable[None]]] = {
    "api": serve_api_child,
    "worker": run_workers_child,
    "projector": run_projector,
}
"""The processes ``helios up`` supervises, in start order: each runs its role on services of
its own over the shared data directory until SIGTERM, or until the supervisor is gone. The
API (ingestion and queries) has a process to itself, so that no decision batch ever holds up
an answer; the CPU-bound side shares the other."""


def child_loop_factory(role: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop child ``role`` runs on: uvloop for the API (``HELIOS_API_LOOP``), whose
    one core goes to the awaits and wake-ups of every request; None (asyncio's own) for the
    others, and where uvloop is not installed.

    Raises:
        InvalidSetting: ``HELIOS_API_LOOP`` names another loop.
    """
    if role != "api":
        return None
    from helios.apps.http.config import ApiConfig

    if ApiConfig.from_env().event_loop != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:  # no build of it for this platform: asyncio's loop serves as well
        return None
    return uvloop.new_event_loop


def lower_cpu_priority(by: int) -> None:
    """Lower this process's CPU priority by ``by`` (niceness) against its siblings.

    The supervisor's children share its session, hence its autogroup under Linux's autogroup
    scheduling: the niceness weighs this process against the other children only, while the
    group as a whole keeps its share of the machine. The group's own niceness is left alone.
    """
    os.nice(by)


def run_child_process(settings: Settings, role: str, *, supervisor: int) -> None:
    """Run ``run_child`` for ``role`` on the event loop that role asks for
    (``child_loop_factory``): what every way of starting a child goes through.

    Raises:
        KeyError: ``role`` is not one of ``CHILD_ROLES``.
        ApiMissing: the role is the API and it is not available.
    """
    with asyncio.Runner(loop_factory=child_loop_factory(role)) as runner:
        runner.run(run_child(settings, role, supervisor=supervisor))


async def run_child(settings: Settings, role: str, *, supervisor: int) -> None:
    """Run one of ``CHILD_ROLES`` until SIGTERM/SIGINT or the end of the process
    ``supervisor``.

    Raises:
        KeyError: ``role`` is not one of ``CHILD_ROLES``.
        ApiMissing: the role is the API and it is not available.
    """
    serve = CHILD_ROLES[role]
    if role == "worker" and settings.up_worker_niceness:
        # The API's requests go first, the worker decides on the CPU they leave: the API
        # commits to its own intake file, so what held its answers up under load was the
        # wait for a core the worker had (docs/operations.md).
        lower_cpu_priority(settings.up_worker_niceness)
    # Before any thread of the API starts: the threads it starts later keep to the same CPUs.
    kept_to = keep_api_to_cpus(settings.up_api_cpus) if role == "api" else None
    stop = asyncio.Event()
    stop_on_signals(stop)
    watcher = asyncio.create_task(watch_parent(stop, supervisor))
    try:
        async with open_services(settings) as services:
            loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
            cpus = sorted(kept_to) if kept_to is not None else "any"
            _log.info("up.child_started", role=role, loop=loop, cpus=cpus)
            await serve(services, stop)
    finally:
        stop.set()
        await watcher
    _log.info("up.child_stopped", role=role)
