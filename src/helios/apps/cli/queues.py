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
    from helios.apps.composition import create_sqs_queues

    created = anyio.run(create_sqs_queues, settings, names)
    listed = [
        {"name": queue.name, "url": queue.url, "dead_letter_url": queue.dead_letter_url}
        for queue in created
    ]
    print(json.dumps({"queue": "sqs", "created": listed}))
    return 0
