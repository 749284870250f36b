"""Creating the SQS queues Helios uses, named as the Terraform module names them."""

from __future__ import annotations

import json
from typing import Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from helios.ports.queue import DEFAULT_MAX_RECEIVES, QueueUnavailable

DEFAULT_PREFIX = "helios-"
INGEST = "ingest"

_FOUR_DAYS_S = 4 * 24 * 3600
# Longer than the main queue's: a dead letter keeps its original enqueue time, and must not
# expire before an operator has looked at it.
_FOURTEEN_DAYS_S = 14 * 24 * 3600


@attrs.frozen(kw_only=True)
class QueueNames:
    main: str
    dead_letter: str


@attrs.frozen(kw_only=True)
class QueueUrls:
    main: str
    dead_letter: str


def queue_names(*, prefix: str = DEFAULT_PREFIX, name: str = INGEST) -> QueueNames:
    """``helios-ingest`` and ``helios-ingest-dlq`` by default."""
    return QueueNames(main=f"{prefix}{name}", dead_letter=f"{prefix}{name}-dlq")


async def create_queues(
    client: Any,
    *,
    prefix: str = DEFAULT_PREFIX,
    name: str = INGEST,
    max_receives: int = DEFAULT_MAX_RECEIVES,
    visibility_timeout_s: int = 30,
) -> QueueUrls:
    """Create (or update) a queue and its dead-letter queue with a redrive policy.

    Idempotent: run again, it leaves existing queues in place and reapplies the attributes.

    Raises:
        QueueUnavailable: SQS refused or could not be reached.
    """
    names = queue_names(prefix=prefix, name=name)
    try:
        dead_url = await _create_or_update(
            client, names.dead_letter, {"MessageRetentionPeriod": str(_FOURTEEN_DAYS_S)}
        )
        attributes = await client.get_queue_attributes(
            QueueUrl=dead_url, AttributeNames=["QueueArn"]
        )
        redrive_policy = {
            "deadLetterTargetArn": attributes["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receives),
        }
        main_url = await _create_or_update(
            client,
            names.main,
            {
                "VisibilityTimeout": str(visibility_timeout_s),
                "MessageRetentionPeriod": str(_FOUR_DAYS_S),
                "ReceiveMessageWaitTimeSeconds": "20",
                "RedrivePolicy": json.dumps(redrive_policy),
            },
        )
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(f"creating queues {names}: {error}") from error
    return QueueUrls(main=main_url, dead_letter=dead_url)


async def find_queues(
    client: Any, *, prefix: str = DEFAULT_PREFIX, name: str = INGEST
) -> QueueUrls:
    """The URLs of existing queues.

    Raises:
        QueueUnavailable: a queue does not exist or SQS cannot be reached.
    """
    names = queue_names(prefix=prefix, name=name)
    try:
        main = await client.get_queue_url(QueueName=names.main)
        dead = await client.get_queue_url(QueueName=names.dead_letter)
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(f"looking up queues {names}: {error}") from error
    return QueueUrls(main=main["QueueUrl"], dead_letter=dead["QueueUrl"])


async def delete_queues(client: Any, urls: QueueUrls) -> None:
    """Delete both queues and every message in them.

    Raises:
        QueueUnavailable: SQS refused or could not be reached.
    """
    try:
        await client.delete_queue(QueueUrl=urls.main)
        await client.delete_queue(QueueUrl=urls.dead_letter)
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(f"deleting queues {urls}: {error}") from error


async def _create_or_update(client: Any, queue_name: str, attributes: dict[str, str]) -> str:
    try:
        created = await client.create_queue(QueueName=queue_name, Attributes=attributes)
        return str(created["QueueUrl"])
    except ClientError as error:
        # CreateQueue is idempotent only for identical attributes; otherwise update in place.
        if error.response.get("Error", {}).get("Code") not in {
            "QueueAlreadyExists",
            "QueueNameExists",
        }:
            raise
    url = str((await client.get_queue_url(QueueName=queue_name))["QueueUrl"])
    await client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url
