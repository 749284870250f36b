"""``helios users create|list|set-password|set-role``: a tenant's people, as JSON.

A password is read from ``HELIOS_USER_PASSWORD`` or, with ``--password-stdin``, from the first
line of standard input: never from the command line, where other users and shell histories
would see it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from helios.apps.application.access import AccessService
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.access import Role, User
from helios.domain.errors import CommandRejected

_ROLES = [role.value for role in Role]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("users", help="create and list users, set passwords and roles")
    commands = parser.add_subparsers(title="users commands", metavar="ACTION")

    create = commands.add_parser("create", help="create a user in a tenant")
    create.add_argument("--tenant", required=True, help="tenant id")
    create.add_argument("--email", required=True, help="the address the user signs in with")
    create.add_argument("--role", required=True, choices=_ROLES, help="what the user may do")
    _password_options(create)
    create.set_defaults(func=_create)

    listing = commands.add_parser("list", help="a tenant's users")
    listing.add_argument("--tenant", required=True, help="tenant id")
    listing.set_defaults(func=_list)

    password = commands.add_parser("set-password", help="set a password (lifts a lockout)")
    password.add_argument("--user", required=True, help="user id")
    _password_options(password)
    password.set_defaults(func=_set_password)

    role = commands.add_parser("set-role", help="give a user another role")
    role.add_argument("--user", required=True, help="user id")
    role.add_argument("--role", required=True, choices=_ROLES, help="the new role")
    role.set_defaults(func=_set_role)


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else HELIOS_USER_PASSWORD, if set)",
    )


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return os.environ.get("HELIOS_USER_PASSWORD") or None


def user_json(user: User) -> dict[str, Any]:
    """What an operator sees of a user: never the password hash."""
    return {
        "user_id": user.user_id,
        "email": user.email,
        "role": user.role.value,
        "has_password": bool(user.password_hash),
        "locked_until_ms": user.locked_until or None,
        "created_at_ms": user.created_at,
    }


def _run(func: Any) -> int:
    store = open_store(Settings.from_env())
    try:
        result = func(AccessService(store))
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps(result))
    return 0


def _create(args: argparse.Namespace) -> int:
    password = _password(args)
    return _run(
        lambda service: user_json(
            service.create_user(
                tenant_id=args.tenant, email=args.email, role=Role(args.role), password=password
            )
        )
    )


def _list(args: argparse.Namespace) -> int:
    return _run(lambda service: [user_json(u) for u in service.users(args.tenant)])


def _set_password(args: argparse.Namespace) -> int:
    password = _password(args)
    if password is None:
        print(json.dumps({"error": "no password: use --password-stdin or HELIOS_USER_PASSWORD"}))
        return 1

    def change(service: AccessService) -> dict[str, str]:
        tenant = service.tenant_of_user(args.user)
        service.set_password(tenant_id=tenant, user_id=args.user, password=password)
        return {"user_id": args.user, "status": "password set"}

    return _run(change)


def _set_role(args: argparse.Namespace) -> int:
    def change(service: AccessService) -> dict[str, str]:
        tenant = service.tenant_of_user(args.user)
        service.change_role(tenant_id=tenant, user_id=args.user, role=Role(args.role), by="cli")
        return {"user_id": args.user, "role": args.role}

    return _run(change)
