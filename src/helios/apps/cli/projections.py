"""``helios projections rebuild|status``: the read models, rebuilt from the log at will."""

from __future__ import annotations

import argparse
import asyncio
import time

import anyio.to_thread

from helios.apps.application.projections import projection_status
from helios.apps.composition import open_services
from helios.apps.settings import Settings
from helios.apps.views.projector import Projector
from helios.apps.workers.followers import follow
from helios.apps.workers.runtime import read_models


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projections = subparsers.add_parser("projections", help="read models: rebuild, status")
    actions = projections.add_subparsers(title="projections commands", metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild",
        help="empty the read models and project the whole log again",
        description="Stop the followers first (or they will race the rebuild). The "
        "notification outbox is kept: a rebuild never sends an email again.",
    )
    rebuild.set_defaults(func=_rebuild)
    status = actions.add_parser("status", help="each follower's position against the log")
    status.set_defaults(func=_status)


def _rebuild(args: argparse.Namespace) -> int:
    async def run() -> tuple[int, float]:
        async with open_services(Settings.from_env()) as services:
            db = await read_models(services)
            try:
                projector = Projector(services.store, db)
                await anyio.to_thread.run_sync(projector.reset)
                started = time.perf_counter()
                reached = await follow(
                    projector,
                    store=services.store,
                    db=db,
                    stop=asyncio.Event(),
                    until_caught_up=True,
                )
                return reached, time.perf_counter() - started
            finally:
                db.close()

    reached, seconds = asyncio.run(run())
    print(f"projections rebuilt up to position {reached} in {seconds:.1f} s")
    return 0


def _status(args: argparse.Namespace) -> int:
    async def run() -> None:
        async with open_services(Settings.from_env()) as services:
            db = await read_models(services)
            try:
                status = await anyio.to_thread.run_sync(projection_status, services.store, db)
                print(f"log head: {status.head}")
                for row in status.followers:
                    print(f"{row.follower:<17} {row.position:>10}  behind by {row.lag}")
            finally:
                db.close()

    asyncio.run(run())
    return 0
