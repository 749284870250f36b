"""``helios worker ingest|followers``: the queue consumer and the followers of the log."""

from __future__ import annotations

import argparse
import asyncio

import attrs
import structlog

from helios.apps.composition import open_services
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.workers.runtime import ingest_worker, run_followers, stop_on_signals

_log = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser("worker", help="run a worker (ingest consumer, followers)")
    kinds = worker.add_subparsers(title="workers", metavar="KIND")
    ingest = kinds.add_parser(
        "ingest",
        help="consume the ingest queue: normalize, decide, append, acknowledge",
        description="Receive envelopes and ticks in batches and record their decisions. "
        "SIGTERM drains the batches in flight, then exits.",
    )
    ingest.add_argument("--concurrency", type=int, help="consumers (default: settings)")
    ingest.add_argument("--batch", type=int, help="most envelopes per transaction")
    ingest.set_defaults(func=_ingest)
    followers = kinds.add_parser(
        "followers",
        help="follow the event log: projections, notifier (email), analytics fan-out",
    )
    followers.add_argument("--no-fanout", action="store_true", help="skip the analytics queue")
    followers.set_defaults(func=_followers)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "concurrency", None):
        changes["worker_concurrency"] = args.concurrency
    if getattr(args, "batch", None):
        changes["worker_batch"] = args.batch
    return attrs.evolve(settings, **changes)


def _ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_services(settings) as services:
            worker = ingest_worker(services)
            _log.info(
                "worker.started",
                concurrency=worker.concurrency,
                batch=worker.batch,
                queue=settings.queue,
            )
            await worker.run(stop)
            _log.info("worker.stopped", **attrs.asdict(worker.stats))

    asyncio.run(main())
    return 0


def _followers(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_services(settings) as services:
            _log.info("followers.started", read_models=settings.effective_read_models_url)
            await run_followers(services, stop, fanout=not args.no_fanout)
            _log.info("followers.stopped")

    asyncio.run(main())
    return 0
