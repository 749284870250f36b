"""``helios integrations create|rotate|list``: integrations and their credentials, as JSON.

A routing key (and a generic integration's signing secret) is printed once, when it is created
or rotated; only its hash is recorded.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from helios.apps.application.tenancy import DEFAULT_KEY_GRACE_MS, Issued, TenancyService
from helios.apps.cli.tenants import print_rejection
from helios.apps.composition import open_store
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
    rotate.add_argument("--integration", required=True, help="integration id")
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
    rotate.set_defaults(func=_rotate)

    listing = commands.add_parser("list", help="a tenant's integrations (no secrets)")
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
        "has_signing_secret": bool(integration.signing_secret),
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


def _create(args: argparse.Namespace) -> int:
    store = open_store(Settings.from_env())
    try:
        issued = TenancyService(store).create_integration(
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
    store = open_store(Settings.from_env())
    service = TenancyService(store)
    try:
        if args.signing_secret:
            issued = service.rotate_signing_secret(
                integration_id=args.integration, grace_ms=args.grace_s * 1000
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


def _list(args: argparse.Namespace) -> int:
    store = open_store(Settings.from_env())
    try:
        tenant = TenancyService(store).tenant(args.tenant)
    finally:
        store.close()
    if not tenant.exists:
        print(json.dumps({"error": "no such tenant", "tenant_id": args.tenant}))
        return 1
    print(json.dumps([integration_json(i) for i in tenant.integrations]))
    return 0
