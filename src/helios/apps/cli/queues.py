"""``helios queues create``: create the SQS queues (and dead-letter queues) Helios uses.

With the embedded queue (``HELIOS_QUEUE=embedded``) there is nothing to create: the queue file
is created on first use. With SQS, the queues are created at ``HELIOS_SQS_ENDPOINT_URL`` (or
AWS) with the ``HELIOS_SQS_PREFIX`` names Terraform would give them; running it twice is safe.
"""

from __future__ import annotations

import argparse
import json

import anyio

DEFAULT_QUEUES = ("ingest",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("queues", help="queue provisioning")
    commands = parser.add_subparsers(title="queues commands", metavar="ACTION")
    create = commands.add_parser(
        "create", help="create the SQS queues and their dead-letter queues (idempotent)"
    )
    create.add_argument(
        "--name",
        action="append",
        default=None,
        help="queue name without prefix (repeatable; default: ingest)",
    )
    create.set_defaults(func=_create)


def _create(args: argparse.Namespace) -> int:
    from helios.apps.settings import Settings

    settings = Settings.from_env()
    names = tuple(args.name or DEFAULT_QUEUES)
    if settings.queue != "sqs":
        print(
            json.dumps(
                {
                    "queue": settings.queue,
                    "created": [],
                    "note": "the embedded queue needs no provisioning",
                }
            )
        )
        return 0
    created = anyio.run(_create_sqs, settings, names)
    print(json.dumps({"queue": "sqs", "created": created}))
    return 0


async def _create_sqs(settings: object, names: tuple[str, ...]) -> list[dict[str, str]]:
    from helios.adapters.sqs.connection import SqsSettings, sqs_client
    from helios.adapters.sqs.provisioning import create_queues
    from helios.apps.settings import Settings

    assert isinstance(settings, Settings)
    created: list[dict[str, str]] = []
    client_settings = SqsSettings(
        endpoint_url=settings.sqs_endpoint_url,
        region=settings.aws_region,
        prefix=settings.sqs_prefix,
    )
    async with sqs_client(client_settings) as client:
        for name in names:
            urls = await create_queues(client, prefix=settings.sqs_prefix, name=name)
            created.append({"name": name, "url": urls.main, "dead_letter_url": urls.dead_letter})
    return created
