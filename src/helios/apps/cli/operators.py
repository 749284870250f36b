"""``helios operators create|list|remove``: the platform's operators, who sign in to the admin
console and see every tenant's jobs. Operators are a server-level role, not a tenant's.

A password is read from ``HELIOS_OPERATOR_PASSWORD`` or, with ``--password-stdin``, from the
first line of standard input: never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from helios.apps.application.operators import OperatorService
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.errors import CommandRejected
from helios.domain.operators import Operator


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "operators",
        help="platform operators of the admin console: create, list, remove",
        description="Platform operators sign in to the admin console (helios admin) and see "
        "platform-wide jobs: every tenant's dead letters, projections, the scheduler.",
    )
    commands = parser.add_subparsers(title="operators commands", metavar="ACTION")
    create = commands.add_parser("create", help="create an operator with a password")
    create.add_argument("name", help="2..64 of a-z 0-9 . _ -, starting with a letter")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else HELIOS_OPERATOR_PASSWORD)",
    )
    create.set_defaults(func=_create)
    listing = commands.add_parser("list", help="every operator")
    listing.set_defaults(func=_list)
    remove = commands.add_parser("remove", help="remove an operator (their sessions end)")
    remove.add_argument("name", help="the operator to remove")
    remove.set_defaults(func=_remove)


def actor() -> str:
    """How the log names an action taken from this command line."""
    return f"cli:{getpass.getuser()}"


def _operator_json(operator: Operator) -> dict[str, Any]:
    # Never the password hash.
    return {
        "name": operator.name,
        "created_at_ms": operator.created_at,
        "created_by": operator.created_by,
    }


def _run(func: Callable[[OperatorService], Any]) -> int:
    store = open_store(Settings.from_env())
    try:
        result = func(OperatorService(store))
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps(result))
    return 0


def _create(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = os.environ.get("HELIOS_OPERATOR_PASSWORD", "")
    if not password:
        print(
            json.dumps({"error": "no password: use --password-stdin or HELIOS_OPERATOR_PASSWORD"})
        )
        return 1
    return _run(
        lambda service: _operator_json(
            service.create(name=args.name, password=password, by=actor())
        )
    )


def _list(args: argparse.Namespace) -> int:
    return _run(lambda service: [_operator_json(o) for o in service.list()])


def _remove(args: argparse.Namespace) -> int:
    def remove(service: OperatorService) -> dict[str, str]:
        service.remove(name=args.name, by=actor())
        return {"name": args.name, "status": "removed"}

    return _run(remove)
