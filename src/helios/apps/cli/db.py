"""``helios db migrate``: create or upgrade the event store's schema (an explicit deploy step)."""

from __future__ import annotations

import argparse

from helios.apps.composition import migrate_store
from helios.apps.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="event store schema")
    db_commands = db.add_subparsers(title="db commands", metavar="ACTION")
    run = db_commands.add_parser(
        "migrate",
        help="create the event store tables if missing (idempotent)",
        description="Create the event store's tables at the store URL. Safe to run twice.",
    )
    run.add_argument(
        "--store",
        default=None,
        help="event store URL: memory://, sqlite:///path, postgresql://… "
        "(default: the settings' store: $HELIOS_STORE_URL, else helios.db in $HELIOS_DATA_DIR)",
    )
    run.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    url = args.store or Settings.from_env().effective_store_url
    migrate_store(url)
    print(f"event store ready: {_redacted(url)}")
    return 0


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
