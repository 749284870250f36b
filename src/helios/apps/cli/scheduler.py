"""``helios scheduler``: ticks for the open alerts that are due, and periodic jobs (dead-letter
report)."""

from __future__ import annotations

import argparse
import asyncio
import time

import attrs

from helios.apps.composition import open_services
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.workers.runtime import read_models, run_scheduler, stop_on_signals
from helios.apps.workers.scheduler import Scheduler


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "scheduler",
        help="send ticks for open alerts that are due; report dead letters",
        description="Every interval, send Ticks for the open alerts that are due (an "
        "escalation, a flapping state to clear; from the projections) on the ingest queue; "
        "the ingest worker applies them once.",
    )
    run.add_argument("--interval", type=float, help="seconds between ticks (default: settings)")
    run.add_argument("--once", action="store_true", help="send one round of ticks and exit")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.interval:
        settings = attrs.evolve(settings, tick_interval_s=args.interval)
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    async def main() -> None:
        async with open_services(settings) as services:
            if args.once:
                db = await read_models(services)
                try:
                    scheduler = Scheduler(
                        queue=services.queue, db=db, interval_s=settings.tick_interval_s
                    )
                    sent = await scheduler.tick_once(time.time_ns() // 1_000_000)
                    dead = await scheduler.report_dead_letters()
                finally:
                    db.close()
                print(f"ticks sent: {sent}; dead letters: {dead}")
                return
            stop = asyncio.Event()
            stop_on_signals(stop)
            await run_scheduler(services, stop)

    asyncio.run(main())
    return 0
