"""``helios users create|invite|list|set-password|set-role|deactivate|reactivate|revoke``: a
tenant's people, as JSON.

``invite`` emails a one-time link (valid 7 days) through the SMTP relay of the settings
(``HELIOS_SMTP_HOST``); with ``--print-link`` it prints the link instead, for an installation
without a relay. ``deactivate`` revokes every token of the user and stops their logins until
``reactivate``; ``revoke`` ends every session and token of a user who stays active.

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

import anyio

from helios.apps.application.access import AccessService
from helios.apps.application.people import PeopleMail, link_url
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_mailer, open_store
from helios.apps.settings import Settings
from helios.domain.access import Role, User
from helios.domain.errors import CommandRejected

_ROLES = [role.value for role in Role]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("users", help="create and list users, set passwords and roles")
    commands = parser.add_subparsers(title="users commands", metavar="ACTION")

    create = commands.add_parser("create", help="create a user in a tenant")
    create.add_argument("--tenant", required=True, help="tenant id")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=_ROLES)
    _password_options(create)
    create.set_defaults(func=_create)

    invite = commands.add_parser(
        "invite", help="invite someone by email: a user without a password, and a one-time link"
    )
    invite.add_argument("--tenant", required=True, help="tenant id")
    invite.add_argument("--email", required=True)
    invite.add_argument("--role", required=True, choices=_ROLES)
    invite.add_argument(
        "--print-link",
        action="store_true",
        help="print the link (for you to pass on) instead of emailing it",
    )
    invite.set_defaults(func=_invite)

    for name, verb in (("deactivate", "deactivate"), ("reactivate", "reactivate")):
        command = commands.add_parser(
            name,
            help=(
                "revoke every token of a user and stop their logins"
                if name == "deactivate"
                else "let a deactivated user log in again (old tokens stay revoked)"
            ),
        )
        command.add_argument("--user", required=True, help="user id")
        command.set_defaults(func=_set_active, active=verb == "reactivate")

    revoke = commands.add_parser("revoke", help="end every session and token of a user")
    revoke.add_argument("--user", required=True, help="user id")
    revoke.set_defaults(func=_revoke)

    listing = commands.add_parser("list", help="a tenant's users")
    listing.add_argument("--tenant", required=True, help="tenant id")
    listing.set_defaults(func=_list)

    password = commands.add_parser("set-password", help="set a password (lifts a lockout)")
    password.add_argument("--user", required=True, help="user id")
    _password_options(password)
    password.set_defaults(func=_set_password)

    role = commands.add_parser("set-role", help="give a user another role")
    role.add_argument("--user", required=True, help="user id")
    role.add_argument("--role", required=True, choices=_ROLES)
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
        "active": user.active,
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


def _invite(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    def invite(service: AccessService) -> dict[str, Any]:
        role = Role(args.role)
        if args.print_link:
            issued = service.invite(tenant_id=args.tenant, email=args.email, role=role, by="cli")
            link = link_url(issued, public_url=settings.effective_public_url)
            return {**user_json(issued.user), "link": link, "emailed": False}
        if not settings.smtp_host:
            raise CommandRejected(
                "no SMTP relay to send the invitation",
                (("email", "set HELIOS_SMTP_HOST, or use --print-link and pass the link on"),),
            )
        mail = PeopleMail(
            service=service,
            mailer=open_mailer(settings),
            sender=settings.smtp_from,
            public_url=settings.effective_public_url,
        )
        invited = anyio.run(
            lambda: mail.invite(tenant_id=args.tenant, email=args.email, role=role, by="cli")
        )
        return {**user_json(invited.user), "emailed": invited.emailed}

    return _run(invite)


def _set_active(args: argparse.Namespace) -> int:
    def change(service: AccessService) -> dict[str, Any]:
        tenant = service.tenant_of_user(args.user)
        service.set_active(tenant_id=tenant, user_id=args.user, active=args.active, by="cli")
        return {"user_id": args.user, "active": args.active}

    return _run(change)


def _revoke(args: argparse.Namespace) -> int:
    def revoke(service: AccessService) -> dict[str, Any]:
        tenant = service.tenant_of_user(args.user)
        revoked = service.revoke_all(tenant_id=tenant, user_id=args.user, by="cli")
        return {"user_id": args.user, "revoked": list(revoked)}

    return _run(revoke)


def _set_role(args: argparse.Namespace) -> int:
    def change(service: AccessService) -> dict[str, str]:
        tenant = service.tenant_of_user(args.user)
        service.change_role(tenant_id=tenant, user_id=args.user, role=Role(args.role), by="cli")
        return {"user_id": args.user, "role": args.role}

    return _run(change)
