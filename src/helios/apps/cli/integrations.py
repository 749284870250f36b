"""``helios integrations create|rotate|revoke|list``: integrations and their credentials, as
JSON.

A routing key (and a generic integration's signing secret) is printed once, when it is created
or rotated; only the key's hash is recorded, and the secret is sealed in the secret store.
``rotate --all --force`` rotates every integration with no grace period: the remedy for the
signing secrets that versions before the secret store recorded in the event log, which cannot
be erased from it (``list`` shows them as ``"legacy_secret": true``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from helios.apps.application.integrations import overview
from helios.apps.application.tenancy import (
    DEFAULT_KEY_GRACE_MS,
    Issued,
    TenancyService,
    wall_clock_ms,
)
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_read_models, open_secret_vault, open_store
from helios.apps.settings import Settings
from helios.domain.errors import CommandRejected
from helios.domain.tenancy import INGEST_KINDS, Integration
from helios.domain.values import SourceKind

_KINDS = sorted(kind.value for kind in INGEST_KINDS)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("integrations", help="create, rotate and list integrations")
    commands = parser.add_subparsers(title="integrations commands", metavar="ACTION")

    create = commands.add_parser("create", help="create an integration; prints its key once")
    create.add_argument("--tenant", required=True, help="tenant id")
    create.add_argument("--kind", required=True, choices=_KINDS, help="the source it accepts")
    create.add_argument("--name", default="", help="display name (default: the kind)")
    create.add_argument("--default-service", default="", help="service for signals without one")
    create.add_argument(
        "--allowed-topic",
        action="append",
        default=[],
        metavar="ARN",
        help="an SNS topic ARN a CloudWatch integration accepts (repeatable)",
    )
    create.set_defaults(func=_create)

    rotate = commands.add_parser(
        "rotate", help="issue a new routing key (or signing secret); the old stays valid a while"
    )
    target = rotate.add_mutually_exclusive_group(required=True)
    target.add_argument("--integration", help="integration id")
    target.add_argument(
        "--all", action="store_true", help="every integration of every tenant (not revoked)"
    )
    rotate.add_argument(
        "--force",
        action="store_true",
        help="no grace period: the old keys and secrets stop working at once",
    )
    rotate.add_argument(
        "--grace-s",
        type=int,
        default=DEFAULT_KEY_GRACE_MS // 1000,
        help="seconds the previous key/secret stays valid (default: %(default)s)",
    )
    rotate.add_argument(
        "--signing-secret",
        action="store_true",
        help="rotate the signing secret (generic integrations) instead of the routing key",
    )
    rotate.add_argument(
        "--secret-stdin",
        action="store_true",
        help="with --signing-secret: set the secret read from standard input (one the sender "
        "already uses) instead of a random one",
    )
    rotate.set_defaults(func=_rotate)

    revoke = commands.add_parser(
        "revoke", help="revoke an integration for good: nothing it sends is accepted"
    )
    revoke.add_argument("--integration", required=True, help="integration id")
    revoke.set_defaults(func=_revoke)

    listing = commands.add_parser(
        "list",
        help="a tenant's integrations (no secrets), last seen and deliveries accepted/rejected",
    )
    listing.add_argument("--tenant", required=True, help="tenant id")
    listing.set_defaults(func=_list)


def integration_json(integration: Integration) -> dict[str, Any]:
    """What an operator may see of an integration: never its key or secret."""
    return {
        "integration_id": integration.integration_id,
        "kind": integration.kind.value,
        "name": integration.name,
        "key_hash_prefix": integration.key_hash[:12],
        "previous_key_valid_until_ms": integration.previous_key_valid_until or None,
        "has_signing_secret": bool(integration.signing_secret_ref or integration.signing_secret),
        "signing_secret_fingerprint": integration.signing_secret_fingerprint or None,
        "legacy_secret": integration.legacy_secret(wall_clock_ms()),
        "revoked_at_ms": integration.revoked_at or None,
        "default_service": integration.default_service,
        "allowed_topics": list(integration.allowed_topics),
        "sns_subscriptions": [
            {
                "topic_arn": s.topic_arn,
                "status": s.status.value,
                "subscription_arn": s.subscription_arn or None,
                "attempts": s.attempts,
                "last_error": s.last_error or None,
                "updated_at_ms": s.updated_at,
            }
            for s in integration.subscriptions
        ],
        "created_at_ms": integration.created_at,
    }


def _issued_json(issued: Issued) -> dict[str, Any]:
    document = {"tenant_id": issued.tenant_id, **integration_json(issued.integration)}
    if issued.routing_key:
        document["routing_key"] = issued.routing_key
    if issued.signing_secret:
        document["signing_secret"] = issued.signing_secret
    return document


def _service(settings: Settings) -> tuple[TenancyService, Any]:
    store = open_store(settings)
    return TenancyService(store, secrets=open_secret_vault(settings)), store


def _create(args: argparse.Namespace) -> int:
    service, store = _service(Settings.from_env())
    try:
        issued = service.create_integration(
            tenant_id=args.tenant,
            kind=SourceKind(args.kind),
            name=args.name,
            default_service=args.default_service,
            allowed_topics=args.allowed_topic,
        )
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps(_issued_json(issued)))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    if args.all:
        return _rotate_all(args)
    if args.force:
        args.grace_s = 0
    service, store = _service(Settings.from_env())
    try:
        if args.signing_secret:
            given = sys.stdin.readline().rstrip("\n") if args.secret_stdin else None
            issued = service.rotate_signing_secret(
                integration_id=args.integration, grace_ms=args.grace_s * 1000, secret=given
            )
        else:
            issued = service.rotate_routing_key(
                integration_id=args.integration, grace_ms=args.grace_s * 1000
            )
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps(_issued_json(issued)))
    return 0


def _rotate_all(args: argparse.Namespace) -> int:
    service, store = _service(Settings.from_env())

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        sys.stderr.write(f"\rrotating [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    try:
        issued = service.rotate_all(
            grace_ms=args.grace_s * 1000, force=args.force, progress=progress
        )
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps([_issued_json(i) for i in issued]))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    service, store = _service(Settings.from_env())
    try:
        tenant = service.tenant_of(args.integration)
        integration = service.revoke_integration(integration_id=args.integration, by="cli")
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps({"tenant_id": tenant, **integration_json(integration)}))
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    store = open_store(settings)
    db = open_read_models(settings.effective_read_models_url)
    try:
        found = overview(TenancyService(store), db, tenant=args.tenant)
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        db.close()
        store.close()
    print(
        json.dumps(
            [
                {
                    **integration_json(o.integration),
                    "last_seen_at_ms": o.last_seen_at,
                    "accepted": o.accepted,
                    "rejected": o.rejected,
                }
                for o in found
            ]
        )
    )
    return 0
