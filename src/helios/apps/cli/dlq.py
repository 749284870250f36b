"""``helios dlq list|show|redrive|purge``: look at dead letters, send them back to the queue,
or delete them for good."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from helios.apps.application.dead_letters import PREVIEW_CHARS, describe
from helios.apps.composition import open_blobs, open_queue
from helios.apps.settings import Settings
from helios.ports.queue import ReceivedMessage


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser("dlq", help="dead-letter queue: list, show, redrive, purge")
    actions = dlq.add_subparsers(title="dlq commands", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--queue", default="ingest", help="queue name (default: %(default)s)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    listing = actions.add_parser("list", parents=[common], help="list dead letters")
    listing.add_argument(
        "--limit", type=int, default=100, help="most messages to list (default: %(default)s)"
    )
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", parents=[common], help="one dead letter in full")
    show.add_argument("message_id", help="the id `helios dlq list` printed")
    show.set_defaults(func=_show)
    redrive = actions.add_parser(
        "redrive", parents=[common], help="move dead letters back to the queue"
    )
    redrive.add_argument("message_ids", nargs="*", help="ids to move (or --all)")
    redrive.add_argument("--all", action="store_true", help="move every dead letter back")
    redrive.set_defaults(func=_redrive)
    purge = actions.add_parser("purge", parents=[common], help="delete dead letters for good")
    purge.add_argument("message_ids", nargs="+", help="ids to delete")
    purge.set_defaults(func=_purge)


async def _dead(args: argparse.Namespace, limit: int) -> Sequence[ReceivedMessage]:
    settings = Settings.from_env()
    async with open_queue(settings, open_blobs(settings), name=args.queue) as queue:
        return await queue.dead_letters(limit=limit)


def _describe(message: ReceivedMessage, *, full: bool = False) -> dict[str, Any]:
    letter = describe(message)
    info: dict[str, Any] = {
        "message_id": letter.message_id,
        "kind": letter.kind,
        "tenant": letter.tenant,
        "correlation_id": letter.correlation_id,
        "receive_count": letter.receive_count,
        "bytes": letter.size,
    }
    if letter.ingest_id:
        info.update(
            ingest_id=letter.ingest_id,
            source=letter.source,
            integration=letter.integration,
            received_at=letter.received_at,
        )
    if letter.error:
        info["error"] = letter.error
    info["body"] = letter.body if full else letter.body[:PREVIEW_CHARS]
    return info


def _list(args: argparse.Namespace) -> int:
    dead = asyncio.run(_dead(args, args.limit))
    rows = [_describe(m) for m in dead]
    if args.json or not sys.stdout.isatty():
        print(orjson.dumps(rows).decode())
        return 0
    table = Table(title=f"dead letters in {args.queue} ({len(rows)})")
    for column in ("message_id", "kind", "tenant", "receives", "bytes", "body"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["message_id"],
            row["kind"],
            row["tenant"],
            str(row["receive_count"]),
            str(row["bytes"]),
            row.get("error") or row["body"],
        )
    Console().print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    dead = asyncio.run(_dead(args, 1000))
    found = [m for m in dead if m.message_id == args.message_id]
    if not found:
        print(f"no dead letter {args.message_id!r} in {args.queue}", file=sys.stderr)
        return 1
    info = _describe(found[0], full=True)
    if args.json or not sys.stdout.isatty():
        print(orjson.dumps(info).decode())
        return 0
    console = Console()
    for key, value in info.items():
        if key != "body":
            console.print(f"[bold]{key}[/bold]: {value}")
    console.print("[bold]body[/bold]:")
    console.print(info["body"], markup=False, highlight=False)
    return 0


def _redrive(args: argparse.Namespace) -> int:
    if not args.all and not args.message_ids:
        print("name message ids, or pass --all", file=sys.stderr)
        return 2

    async def run() -> int:
        settings = Settings.from_env()
        async with open_queue(settings, open_blobs(settings), name=args.queue) as queue:
            return await queue.redrive("all" if args.all else set(args.message_ids))

    moved = asyncio.run(run())
    if args.json:
        print(orjson.dumps({"redriven": moved}).decode())
    else:
        print(f"redriven: {moved}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    async def run() -> int:
        settings = Settings.from_env()
        async with open_queue(settings, open_blobs(settings), name=args.queue) as queue:
            return await queue.purge_dead_letters(set(args.message_ids))

    purged = asyncio.run(run())
    if args.json:
        print(orjson.dumps({"purged": purged}).decode())
    else:
        print(f"purged: {purged}")
    return 0
