"""``helios tokens create|list|revoke``: personal API tokens, as JSON.

A token is printed once, when it is created; only its SHA-256 is recorded. A user id names its
tenant, so ``--tenant`` is optional; when given, it must be the user's (a check against a
mix-up, never a way to reach another tenant's user).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from helios.apps.application.access import AccessService
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.access import Token
from helios.domain.errors import CommandRejected

_DAY_MS = 24 * 3600 * 1000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tokens", help="personal API tokens of users")
    commands = parser.add_subparsers(title="tokens commands", metavar="ACTION")

    create = commands.add_parser("create", help="issue a token for a user; prints it once")
    _user_options(create)
    create.add_argument("--name", default="cli", help="what the token is for")
    create.add_argument("--expires-in-days", type=int, default=None, help="default: never")
    create.set_defaults(func=_create)

    listing = commands.add_parser("list", help="a user's tokens (never their secrets)")
    _user_options(listing)
    listing.add_argument(
        "--sessions", action="store_true", help="include the user's login sessions"
    )
    listing.set_defaults(func=_list)

    revoke = commands.add_parser("revoke", help="revoke a token or session for good")
    _user_options(revoke, owner=True)
    revoke.add_argument("--token", required=True, help="token id")
    revoke.set_defaults(func=_revoke)


def _user_options(parser: argparse.ArgumentParser, *, owner: bool = False) -> None:
    parser.add_argument("--tenant", help="tenant id (optional: checked against the user's)")
    parser.add_argument(
        "--user", required=True, help="user id (the token's owner)" if owner else "user id"
    )


def _tenant(service: AccessService, args: argparse.Namespace) -> str:
    """The user's tenant, which ``--tenant`` must name when it is given.

    Raises:
        CommandRejected: no such user, or the user is not in ``--tenant``.
    """
    tenant = service.tenant_of_user(args.user)
    if args.tenant is not None and args.tenant != tenant:
        raise CommandRejected(
            "the user is not in this tenant",
            (("tenant", f"user {args.user} belongs to another tenant"),),
        )
    return tenant


def token_json(token: Token) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "user_id": token.user_id,
        "kind": token.kind.value,
        "name": token.name,
        "issued_at_ms": token.issued_at,
        "expires_at_ms": token.expires_at or None,
        "revoked_at_ms": token.revoked_at or None,
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
    def issue(service: AccessService) -> dict[str, Any]:
        tenant = _tenant(service, args)
        days = args.expires_in_days
        issued = service.issue_token(
            tenant_id=tenant,
            user_id=args.user,
            name=args.name,
            expires_in_ms=days * _DAY_MS if days is not None else None,
        )
        return {"tenant_id": tenant, "token": issued.token, **token_json(issued.record)}

    return _run(issue)


def _list(args: argparse.Namespace) -> int:
    def listing(service: AccessService) -> list[dict[str, Any]]:
        tenant = _tenant(service, args)
        if args.sessions:
            return [token_json(t) for t in service.credentials(tenant, args.user)]
        return [token_json(t) for t in service.tokens(tenant, args.user)]

    return _run(listing)


def _revoke(args: argparse.Namespace) -> int:
    def revoke(service: AccessService) -> dict[str, str]:
        tenant = _tenant(service, args)
        if args.token not in {t.token_id for t in service.credentials(tenant, args.user)}:
            raise CommandRejected("no such token", (("token", "not a token of this user"),))
        service.revoke_token(tenant_id=tenant, token_id=args.token, by="cli")
        return {"token_id": args.token, "status": "revoked"}

    return _run(revoke)
