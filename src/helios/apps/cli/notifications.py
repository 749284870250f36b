"""``helios notifications status|retry``: the notification outbox, seen and nudged.

A notification whose e-mail could not be sent is retried with backoff, then marked ``failed``
after its last attempt (see ``helios.apps.workers.notifier``). When the mail relay is back,
``retry`` makes every unsent notification due at once, and ``--failed`` gives up-for-good rows
a fresh set of attempts. Sent rows are never touched: a retry cannot send an e-mail twice.
"""

from __future__ import annotations

import argparse
import json
import time

from helios.apps.composition import open_read_models
from helios.apps.settings import Settings
from helios.apps.views import outbox


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "notifications", help="the notification outbox: status, retry after a mail outage"
    )
    actions = parser.add_subparsers(title="notifications commands", metavar="ACTION")
    status = actions.add_parser(
        "status", help="notifications by status and the age of the oldest unsent one (JSON)"
    )
    status.set_defaults(func=_status)
    retry = actions.add_parser(
        "retry",
        help="send every unsent notification now (after the mail relay is back)",
        description="Makes pending notifications due at once; with --failed, notifications "
        "that ran out of attempts are tried again too. Sent ones are never sent again.",
    )
    retry.add_argument(
        "--failed", action="store_true", help="also retry notifications marked failed"
    )
    retry.set_defaults(func=_retry)


def _status(args: argparse.Namespace) -> int:
    db = open_read_models(Settings.from_env().effective_read_models_url)
    try:
        found = outbox.summary(db)
    finally:
        db.close()
    oldest = found.oldest_pending_created_at
    age_s = None if oldest is None else round(max(0, _now_ms() - oldest) / 1000, 1)
    print(json.dumps({**found.by_status, "oldest_pending_age_s": age_s}))
    return 0


def _retry(args: argparse.Namespace) -> int:
    db = open_read_models(Settings.from_env().effective_read_models_url)
    try:
        moved = outbox.retry_now(db, now=_now_ms(), include_failed=args.failed)
    finally:
        db.close()
    print(json.dumps({"due_now": moved}))
    return 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
