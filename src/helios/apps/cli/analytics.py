"""``helios analytics``: the analytics worker, its rebuild from the log, and reports."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio.to_thread
import structlog
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from helios.apps.application.analytics.rebuild import rebuild_analytics
from helios.apps.application.analytics.report import weekly_report
from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import (
    open_analytics_store,
    open_memory_analytics,
    open_read_models,
    open_services,
)
from helios.apps.embedded.history import HistoryGenerator
from helios.apps.embedded.runner import integration
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.workers.analytics import run_analytics
from helios.apps.workers.runtime import ingest_worker, stop_on_signals
from helios.ports.analytics import AnalyticsStore, AnalyticsUnavailable

_log = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analytics = subparsers.add_parser(
        "analytics",
        help="run the analytics worker; rebuild its store; write reports",
        description="Without a sub-command: consume the analytics queue into the analytics "
        "store (a DuckDB file private to this worker, $HELIOS_ANALYTICS_PATH) and publish "
        "overview, trends and suggestions to the read models for the API. Runs beside "
        "'helios up' or 'helios worker followers'; SIGTERM stops it after the batch in flight.",
    )
    analytics.set_defaults(func=_run)
    commands = analytics.add_subparsers(title="sub-commands", metavar="SUB-COMMAND")
    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild the analytics store from the event log (stop the worker first)",
        description="Forget every fact and load every decision of the log again, with a "
        "progress bar; the result equals what the worker would have loaded.",
    )
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(func=_rebuild)
    report = commands.add_parser(
        "report",
        help="write a tenant's weekly report as one HTML file",
        description="The report of the last full ISO week (Monday to Monday, UTC) before "
        "--at (default: now), charts as inline SVG: it opens offline. Reads the analytics "
        "store, or the log when the running worker holds the store.",
    )
    report.add_argument("--tenant", required=True, help="tenant id")
    report.add_argument("--out", required=True, type=Path, help="HTML file to write")
    report.add_argument(
        "--at", type=_instant, help="a moment after the week (RFC 3339, default: now)"
    )
    report.set_defaults(func=_report)
    seed = commands.add_parser(
        "seed",
        help="record days of backdated alert traffic through the ingest queue",
        description="Put weeks of realistic traffic (a noisy alert nobody acknowledges, a "
        "flapping one, two that fire together, everyday alerts acknowledged by a person) on "
        "the ingest queue with their recorded times, and decide them with an ingest worker "
        "here. 'helios up' then fans them out to analytics: the report and the suggestions "
        "have real numbers.",
    )
    seed.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    seed.add_argument(
        "--tenant", help="tenant id (default: the tenant 'helios up' made on its first start)"
    )
    seed.set_defaults(func=_seed)


@contextlib.contextmanager
def _progress(console: Console, *, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over log positions; yields ``advance(position, end)``."""
    with Progress(
        TextColumn("reading the log"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} log entries"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("log", total=None)

        def advance(position: int, end: int) -> None:
            progress.update(task, completed=position, total=end)

        yield advance


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_services(settings) as services:
            await run_analytics(services, stop)

    asyncio.run(main())
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    console = Console(stderr=True)
    try:
        analytics = open_analytics_store(settings)
    except AnalyticsUnavailable as error:
        console.print(f"[red]cannot open the analytics store:[/red] {error}")
        console.print("Stop the analytics worker first: it holds the file.")
        return 1

    async def main() -> int:
        async with open_services(settings) as services:
            db = await anyio.to_thread.run_sync(
                open_read_models, settings.effective_read_models_url
            )
            try:
                with Progress(
                    TextColumn("rebuilding analytics"),
                    BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} log entries"),
                    TimeRemainingColumn(),
                    console=console,
                    disable=args.quiet,
                ) as progress:
                    task = progress.add_task("rebuild", total=None)

                    def advance(position: int, end: int) -> None:
                        progress.update(task, completed=position, total=end)

                    return await anyio.to_thread.run_sync(
                        lambda: rebuild_analytics(services.store, analytics, db, progress=advance)
                    )
            finally:
                db.close()

    try:
        loaded = asyncio.run(main())
    finally:
        analytics.close()
    console.print(f"loaded {loaded:,} facts into {settings.effective_analytics_path}")
    return 0


def _instant(text: str) -> int:
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


def _report(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    console = Console(stderr=True)
    at = args.at if args.at is not None else time.time_ns() // 1_000_000
    try:
        analytics = open_analytics_store(settings)
    except AnalyticsUnavailable:
        console.print("The analytics worker holds its store: reading the log instead.")
        analytics = _from_log(settings, console)
    try:
        made = weekly_report(analytics, args.tenant, at=at)
    finally:
        analytics.close()
    try:
        args.out.write_text(made.html, encoding="utf-8")
    except OSError as error:
        console.print(f"[red]cannot write {args.out}:[/red] {error}")
        return 1
    summary = made.summary
    console.print(
        f"wrote {args.out}: week {made.report_id}, {summary['alerts']} alerts, "
        f"{summary['pages']} pages ({summary['pages_trend']}), "
        f"{summary['suggestions']} suggestions"
    )
    return 0


def _from_log(settings: Settings, console: Console) -> AnalyticsStore:
    """An in-memory analytics store loaded from the log, with a progress bar."""
    memory = open_memory_analytics()

    async def main() -> None:
        async with open_services(settings) as services:
            db = await anyio.to_thread.run_sync(
                open_read_models, settings.effective_read_models_url
            )
            try:
                with _progress(console, quiet=False) as advance:
                    await anyio.to_thread.run_sync(
                        lambda: rebuild_analytics(services.store, memory, db, progress=advance)
                    )
            finally:
                db.close()

    asyncio.run(main())
    return memory


def _seed(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(log_format=settings.log_format, level="warning")
    console = Console(stderr=True)
    if not 1 <= args.days <= 366:
        console.print("[red]--days must be between 1 and 366[/red]")
        return 2

    async def main() -> int:
        async with open_services(settings) as services:
            details, _ = await integration(services)
            tenant = args.tenant or details["tenant"]
            now = time.time_ns() // 1_000_000
            envelopes = list(
                HistoryGenerator(
                    tenant=tenant,
                    until=now - 60_000,
                    days=args.days,
                    integration=details["integration"],
                ).envelopes()
            )
            with _bar(console, "queueing", len(envelopes)) as advance:
                for start in range(0, len(envelopes), 500):
                    chunk = envelopes[start : start + 500]
                    await services.queue.send(
                        [envelope_message(e, correlation_id="history") for e in chunk]
                    )
                    advance(start + len(chunk))
            stop = asyncio.Event()
            worker = ingest_worker(services)
            running = asyncio.create_task(worker.run(stop))
            with _bar(console, "deciding", len(envelopes)) as advance:
                while (left := await services.queue.depth()) > 0:
                    advance(max(0, len(envelopes) - left))
                    await asyncio.sleep(0.5)
                advance(len(envelopes))
            stop.set()
            await running
            console.print(
                f"recorded {len(envelopes):,} envelopes of {args.days} days for tenant {tenant}; "
                "'helios up' (or 'helios worker followers' and 'helios analytics') brings them "
                "into analytics"
            )
            return 0

    return asyncio.run(main())


@contextlib.contextmanager
def _bar(console: Console, label: str, total: int) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)
