"""``helios replay verify | explain | what-if``: audit the event log from the command line.

Exit codes: 0 when the command succeeded (for verify: nothing diverged), 1 when verify found
a divergence, 2 on usage errors (bad arguments, unknown alert, invalid rules file).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from helios.apps.application import rules_file
from helios.apps.application.replay import render
from helios.apps.application.replay.explain import AlertNotFound, explain
from helios.apps.application.replay.log import Window
from helios.apps.application.replay.verify import Verifier
from helios.apps.application.replay.whatif import what_if
from helios.apps.composition import open_event_store
from helios.apps.settings import Settings
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Millis
from helios.ports.event_store import EventStore, StoreUnavailable

USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = subparsers.add_parser(
        "replay",
        help="verify, explain and what-if over the recorded event log",
        description="Replay and audit: every decision can be re-run, explained and re-tried.",
    )
    commands = replay.add_subparsers(title="replay commands", metavar="ACTION")

    verify = commands.add_parser(
        "verify",
        help="re-run normalization and decisions and compare with the log",
        description=(
            "Stream the whole log, re-normalize every recorded envelope under the ruleset "
            "version it was recorded with, re-decide every signal and tick, and compare every "
            "decision byte for byte. Exit 0 when nothing diverged, 1 otherwise."
        ),
    )
    _store_option(verify)
    _window_options(verify, what="verify")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--max-divergences",
        type=int,
        default=100,
        help="how many divergences to detail (all are counted; default %(default)s)",
    )
    verify.set_defaults(func=_verify)

    story = commands.add_parser(
        "explain",
        help="an alert's signals and decisions, with each score's factors",
        description="Tell one alert's story: signals (duplicate, late), decisions, scores "
        "with their factors, ruleset versions, silences and notifications.",
    )
    _store_option(story)
    story.add_argument("--tenant", help="the alert's tenant (with DEDUP_KEY)")
    story.add_argument(
        "--stream", type=uuid.UUID, help="the alert's stream id (instead of tenant and key)"
    )
    story.add_argument("dedup_key", nargs="?", metavar="DEDUP_KEY", help="the alert's dedup key")
    story.add_argument("--json", action="store_true", help="print the story as JSON")
    story.set_defaults(func=_explain)

    whatif = commands.add_parser(
        "what-if",
        help="replay a window under another ruleset and show what would change",
        description="Replay history under the rules in a TOML file, without writing anything, "
        "and report priority counts before and after, notifications that would or would not "
        "have been sent, and the alerts whose priority changes (see docs/replay.md).",
    )
    _store_option(whatif)
    whatif.add_argument("--rules", required=True, metavar="FILE", help="TOML ruleset file")
    _window_options(whatif, what="replay")
    whatif.add_argument("--json", action="store_true", help="print the report as JSON")
    whatif.set_defaults(func=_what_if)

    dump = commands.add_parser(
        "dump-rules",
        help="write a tenant's current ruleset as a TOML rules file",
        description="Print the latest published ruleset of a tenant (or the defaults) as TOML, "
        "a starting point for what-if.",
    )
    _store_option(dump)
    dump.add_argument("--tenant", required=True, help="the tenant")
    dump.set_defaults(func=_dump_rules)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="event store URL: memory://, sqlite:path, postgresql://… (default: the settings'"
        " store: $HELIOS_STORE_URL, else helios.db in $HELIOS_DATA_DIR, else in .helios)",
    )


def _window_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument("--tenant", help=f"{what} one tenant only")
    parser.add_argument(
        "--since", type=_instant, metavar="ISO", help="inputs received at or after this time"
    )
    parser.add_argument(
        "--until", type=_instant, metavar="ISO", help="inputs received at or before this time"
    )


def _instant(text: str) -> Millis:
    try:
        return parse_rfc3339(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r} ({error})") from error


# --------------------------------------------------------------------------- commands


def _verify(args: argparse.Namespace) -> int:
    window = Window(tenant=args.tenant, since=args.since, until=args.until)
    console = Console()
    with _opened(args.store) as store:
        verifier = Verifier(store, window=window, max_divergences=args.max_divergences)
        with _progress(console, quiet=args.json, label="verifying") as advance:
            report = verifier.run(advance)
    if args.json:
        sys.stdout.buffer.write(render.as_json(report))
    else:
        render.verify_text(console, report)
    return 0 if report.ok else 1


def _explain(args: argparse.Namespace) -> int:
    if args.stream is None and (args.tenant is None or args.dedup_key is None):
        print("helios replay explain: give --tenant T DEDUP_KEY, or --stream ID", file=sys.stderr)
        return USAGE
    with _opened(args.store) as store:
        try:
            story = explain(
                store, tenant=args.tenant, dedup_key=args.dedup_key, stream_id=args.stream
            )
        except AlertNotFound as error:
            print(f"helios replay explain: {error}", file=sys.stderr)
            return USAGE
    if args.json:
        sys.stdout.buffer.write(render.as_json(story))
    else:
        render.story_text(Console(), story)
    return 0


def _what_if(args: argparse.Namespace) -> int:
    try:
        rules = rules_file.load(args.rules)
    except rules_file.RulesFileError as error:
        print(f"helios replay what-if: {args.rules}: {error}", file=sys.stderr)
        return USAGE
    window = Window(tenant=args.tenant, since=args.since, until=args.until)
    console = Console()
    with (
        _opened(args.store) as store,
        _progress(console, quiet=args.json, label="replaying") as advance,
    ):
        report = what_if(store, rules=rules, window=window, progress=advance)
    if args.json:
        sys.stdout.buffer.write(render.as_json(report))
    else:
        render.what_if_text(console, report)
    return 0


def _dump_rules(args: argparse.Namespace) -> int:
    from helios.apps.application.rules import rules_in_force

    with _opened(args.store) as store:
        current = rules_in_force(store, tenant=args.tenant).ruleset
    sys.stdout.write(rules_file.dumps(current))
    return 0


# --------------------------------------------------------------------------- plumbing


@contextmanager
def _opened(url: str | None) -> Iterator[EventStore]:
    url = url or Settings.from_env().effective_store_url
    try:
        store = open_event_store(url)
    except (ValueError, StoreUnavailable) as error:
        print(f"helios replay: cannot open the store {url!r}: {error}", file=sys.stderr)
        raise SystemExit(USAGE) from error
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _progress(
    console: Console, *, quiet: bool, label: str
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar over log positions on a terminal; nothing when piped or with --json."""
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"))
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(position: int, end: int) -> None:
            bar.update(task, completed=position, total=max(end, position))

        yield advance
