"""``helios tenants create NAME``: operator commands for tenants (JSON on stdout)."""

from __future__ import annotations

import argparse
import json

from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.errors import CommandRejected


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = subparsers.add_parser("tenants", help="create and show tenants")
    commands = tenants.add_subparsers(title="tenants commands", metavar="ACTION")
    create = commands.add_parser("create", help="create a tenant; prints its id as JSON")
    create.add_argument("name", help="a display name")
    create.set_defaults(func=_create)
    show = commands.add_parser("show", help="a tenant and its integrations as JSON")
    show.add_argument("tenant", help="tenant id")
    show.set_defaults(func=_show)


def _create(args: argparse.Namespace) -> int:
    store = open_store(Settings.from_env())
    try:
        tenant = TenancyService(store).create_tenant(args.name)
    except CommandRejected as error:
        return print_rejection(error)
    finally:
        store.close()
    print(json.dumps({"tenant_id": tenant.tenant_id, "name": tenant.name}))
    return 0


def _show(args: argparse.Namespace) -> int:
    from helios.apps.cli.integrations import integration_json

    store = open_store(Settings.from_env())
    try:
        tenant = TenancyService(store).tenant(args.tenant)
    finally:
        store.close()
    if not tenant.exists:
        print(json.dumps({"error": "no such tenant", "tenant_id": args.tenant}))
        return 1
    document = {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "integrations": [integration_json(i) for i in tenant.integrations],
    }
    print(json.dumps(document))
    return 0


def print_rejection(error: CommandRejected) -> int:
    """Print a refused command as JSON; the exit code is 1."""
    problems = [{"field": field, "message": message} for field, message in error.problems]
    print(json.dumps({"error": error.message, "problems": problems}))
    return 1
