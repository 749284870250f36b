"""``helios rules show | validate | preview | publish | history``: a tenant's rules from the
command line, through the same use cases as the admin console.

``publish`` runs a preview first (recorded, like the console's) and publishes only what it
previewed, only if no other version was published meanwhile. Exit codes: 0 done, 1 refused
(the rules changed since the preview, or publishing declined), 2 usage errors (bad arguments,
an invalid rules file).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from helios.apps.application import rules_file, rules_review
from helios.apps.application.jobs import JobRunner
from helios.apps.application.replay import render
from helios.apps.application.replay.whatif import WhatIfReport
from helios.apps.application.rules import rules_in_force
from helios.apps.cli.operators import actor
from helios.apps.composition import open_store
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.domain.errors import CommandRejected
from helios.domain.timestamps import format_rfc3339
from helios.ports.event_store import EventStore

USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="a tenant's rules: show, validate, preview, publish, history",
        description="Read, check, preview (a what-if over recorded history) and publish a "
        "tenant's rules as TOML files (the format of 'helios replay what-if'; see "
        "docs/replay.md). The same use cases as the admin console's Rules page.",
    )
    commands = parser.add_subparsers(title="rules commands", metavar="ACTION")
    show = commands.add_parser("show", help="the rules in force, as TOML")
    show.add_argument("--tenant", required=True, help="the tenant whose rules to show")
    show.set_defaults(func=_show)
    validate = commands.add_parser("validate", help="check a rules file, naming each problem")
    validate.add_argument("file", metavar="FILE", help="a TOML rules file")
    validate.set_defaults(func=_validate)
    for name, func, text in (
        ("preview", _preview, "what the rules in FILE would have changed over the last days"),
        ("publish", _publish, "preview FILE, then publish it as the next version"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("file", metavar="FILE", help="a TOML rules file (the draft)")
        command.add_argument("--tenant", required=True, help="the tenant whose history to replay")
        command.add_argument(
            "--days",
            type=int,
            default=rules_review.DEFAULT_DAYS,
            help="how many days of history to replay (default %(default)s)",
        )
        command.add_argument("--json", action="store_true", help="print the report as JSON")
        if name == "publish":
            command.add_argument(
                "--yes", action="store_true", help="publish without asking after the preview"
            )
        command.set_defaults(func=func)
    history = commands.add_parser("history", help="every version published, with a diff")
    history.add_argument("--tenant", required=True, help="the tenant whose versions to list")
    history.add_argument(
        "--diff", nargs=2, type=int, metavar=("OLD", "NEW"), help="show what changed"
    )
    history.set_defaults(func=_history)


@contextmanager
def _opened() -> Iterator[EventStore]:
    settings = Settings.from_env()
    # Logs go to standard error, so that standard output holds only the rules or the report.
    configure_logging(log_format=settings.log_format, level="warning")
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        print(f"helios rules: cannot read {path}: {error.strerror}", file=sys.stderr)
        return None


def _show(args: argparse.Namespace) -> int:
    with _opened() as store:
        current = rules_in_force(store, tenant=args.tenant)
    if current.published_at:
        when = format_rfc3339(current.published_at)
        print(f"# in force since {when}, published by {current.published_by or 'unknown'}")
    else:
        print("# the built-in defaults: nothing was published yet")
    sys.stdout.write(rules_file.dumps(current.ruleset))
    return 0


def _validate(args: argparse.Namespace) -> int:
    text = _read(args.file)
    if text is None:
        return USAGE
    try:
        rules_review.validate_draft(text)
    except rules_file.RulesFileError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return USAGE
    print(f"{args.file}: valid")
    return 0


def _previewed(args: argparse.Namespace, store: EventStore) -> tuple[str, WhatIfReport] | int:
    """Run a recorded preview of FILE to its end; the job id and report, or an exit code."""
    text = _read(args.file)
    if text is None:
        return USAGE
    runner = JobRunner(store)
    console = Console(stderr=True)
    try:
        job_id = rules_review.start_preview(
            runner, store, tenant=args.tenant, draft=text, by=actor(), days=args.days
        )
        with _progress(console, quiet=args.json) as advance:
            while (job := runner.job(args.tenant, job_id)) is not None and job.running:
                progress = runner.progress(job_id)
                if advance is not None and progress is not None:
                    advance(progress.done, progress.total)
                time.sleep(0.1)
    except rules_file.RulesFileError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return USAGE
    except CommandRejected as error:
        print(f"helios rules: {error.message}: {error.problems}", file=sys.stderr)
        return USAGE
    finally:
        runner.close()
    report = runner.result(job_id)
    if not isinstance(report, WhatIfReport):
        summary = dict(job.summary) if job else {}
        print(f"helios rules: the preview failed: {summary.get('error')}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.buffer.write(render.as_json(report))
    else:
        render.what_if_text(Console(), report)
    return job_id, report


def _preview(args: argparse.Namespace) -> int:
    with _opened() as store:
        done = _previewed(args, store)
    return done if isinstance(done, int) else 0


def _publish(args: argparse.Namespace) -> int:
    with _opened() as store:
        done = _previewed(args, store)
        if isinstance(done, int):
            return done
        job_id, _ = done
        if not args.yes:
            if not sys.stdin.isatty():
                print("helios rules publish: not published (pass --yes)", file=sys.stderr)
                return 1
            if input("Publish these rules as the next version? [y/N] ").strip().lower() != "y":
                print("not published")
                return 1
        try:
            version = rules_review.publish_previewed(
                store, tenant=args.tenant, job_id=job_id, by=actor()
            )
        except CommandRejected as error:
            detail = "; ".join(m for _, m in error.problems) or error.message
            print(f"helios rules publish: not published: {detail}", file=sys.stderr)
            return 1
    print(f"published version {version}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _history(args: argparse.Namespace) -> int:
    with _opened() as store:
        versions = rules_review.history(store, tenant=args.tenant)
    if args.diff:
        try:
            lines = rules_review.diff(versions, old=args.diff[0], new=args.diff[1])
        except CommandRejected as error:
            print(f"helios rules history: {error.problems}", file=sys.stderr)
            return USAGE
        print("\n".join(lines) if lines else "the same rules")
        return 0
    table = Table(title=f"rules of {args.tenant}")
    for column in ("version", "published", "by"):
        table.add_column(column)
    for v in reversed(versions):
        when = format_rfc3339(v.at) if v.at else "built-in defaults"
        table.add_row(str(v.version), when, v.by or "—")
    Console().print(table)
    return 0


@contextmanager
def _progress(console: Console, *, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar over log positions on a terminal; nothing when piped or with --json."""
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("previewing"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
    )
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("previewing", total=None)

        def advance(position: int, end: int) -> None:
            bar.update(task, completed=position, total=max(end, position))

        yield advance
