"""``helios flags list|define|set|rollout|history --tenant T``: a tenant's feature flags.

``list`` prints a table (``--json`` for JSON); the other commands print JSON. Known flags (the
engine reads them) can be switched without defining them first: ``no_incident_grouping`` —
alerts it is in effect for open and join no incidents.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from helios.apps.application import flags as use_cases
from helios.apps.application.tenancy import wall_clock_ms
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.errors import CommandRejected
from helios.domain.flags import KNOWN_FLAGS, Flag


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    known = "; ".join(f"{name}: {what}" for name, what in KNOWN_FLAGS.items())
    parser = subparsers.add_parser(
        "flags",
        help="a tenant's feature flags: list, define, switch, roll out, history",
        description=f"Feature flags per tenant. Flags the engine reads: {known}.",
    )
    commands = parser.add_subparsers(title="flags commands", metavar="ACTION")

    listing = commands.add_parser("list", help="the tenant's flags")
    _tenant(listing)
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(func=_list)

    define = commands.add_parser("define", help="define a flag (off, rollout 100%%)")
    _tenant(define)
    define.add_argument("name")
    define.add_argument("--description", default="")
    define.set_defaults(func=_define)

    switch = commands.add_parser("set", help="switch a flag on or off")
    _tenant(switch)
    switch.add_argument("name")
    switch.add_argument("state", choices=["on", "off"])
    switch.set_defaults(func=_set)

    rollout = commands.add_parser(
        "rollout", help="the %% of alerts (stable hash of their key) an enabled flag applies to"
    )
    _tenant(rollout)
    rollout.add_argument("name")
    rollout.add_argument("percent", type=int, help="0..100")
    rollout.set_defaults(func=_rollout)

    history = commands.add_parser("history", help="every change of the flags, oldest first")
    _tenant(history)
    history.add_argument("name", nargs="?", help="only this flag")
    history.set_defaults(func=_history)


def _tenant(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")


def flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "name": flag.name,
        "enabled": flag.enabled,
        "percent": flag.percent,
        "description": flag.description,
        "updated_at_ms": flag.updated_at,
        "updated_by": flag.updated_by,
    }


def _run(func: Any) -> int:
    store = open_store(Settings.from_env())
    try:
        result = func(store)
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps(result))
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.json:
        return _run(lambda s: [flag_json(f) for f in use_cases.tenant_flags(s, tenant=args.tenant)])
    store = open_store(Settings.from_env())
    try:
        found = use_cases.tenant_flags(store, tenant=args.tenant)
    finally:
        store.close()
    if not found:
        print(f"no flags for tenant {args.tenant} (known: {', '.join(KNOWN_FLAGS)})")
        return 0
    width = max(len(f.name) for f in found)
    sys.stdout.write(f"{'NAME'.ljust(width)}  STATE  ROLLOUT  DESCRIPTION\n")
    for flag in found:
        state = "on" if flag.enabled else "off"
        sys.stdout.write(
            f"{flag.name.ljust(width)}  {state.ljust(5)}  {str(flag.percent).rjust(6)}%"
            f"  {flag.description}\n"
        )
    return 0


def _define(args: argparse.Namespace) -> int:
    return _run(
        lambda s: flag_json(
            use_cases.define_flag(
                s,
                tenant=args.tenant,
                name=args.name,
                description=args.description,
                by="cli",
                at=wall_clock_ms(),
            )
        )
    )


def _set(args: argparse.Namespace) -> int:
    return _run(
        lambda s: flag_json(
            use_cases.set_flag(
                s,
                tenant=args.tenant,
                name=args.name,
                enabled=args.state == "on",
                by="cli",
                at=wall_clock_ms(),
            )
        )
    )


def _rollout(args: argparse.Namespace) -> int:
    return _run(
        lambda s: flag_json(
            use_cases.set_rollout(
                s,
                tenant=args.tenant,
                name=args.name,
                percent=args.percent,
                by="cli",
                at=wall_clock_ms(),
            )
        )
    )


def _history(args: argparse.Namespace) -> int:
    return _run(
        lambda s: [
            {"name": c.name, "change": c.change, "at_ms": c.at, "by": c.by}
            for c in use_cases.flag_history(s, tenant=args.tenant, name=args.name)
        ]
    )
