"""Creating the SQS queues Helios uses, named as the Terraform module names them."""

from __future__ import annotations

import json
from typing import Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from helios.ports.queue import DEFAULT_MAX_RECEIVES, QueueUnavailable

DEFAULT_PREFIX = "helios-"
INGEST = "ingest"
FIFO_SUFFIX = ".fifo"
"""SQS requires it at the end of a FIFO queue's name (and tells FIFO queues apart by it)."""

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


def queue_names(
    *, prefix: str = DEFAULT_PREFIX, name: str = INGEST, fifo: bool = False
) -> QueueNames:
    """``helios-ingest`` and ``helios-ingest-dlq`` by default; with ``fifo``,
    ``helios-ingest.fifo`` and ``helios-ingest-dlq.fifo`` (a FIFO queue's dead-letter queue
    must be FIFO too)."""
    suffix = FIFO_SUFFIX if fifo else ""
    return QueueNames(main=f"{prefix}{name}{suffix}", dead_letter=f"{prefix}{name}-dlq{suffix}")


def fifo_attributes(*, dead_letter: bool) -> dict[str, str]:
    """The attributes that make a queue FIFO.

    Deduplication is by explicit ``MessageDeduplicationId`` (each message's ingest id, tick or
    command id; see ``SqsQueue``), not ``ContentBasedDeduplication``: two envelopes with the
    same body are two deliveries to decide, and a resend of one envelope has the same id.
    The main queue is high-throughput FIFO: deduplication and the throughput quota per message
    group (a tenant), not per queue. A dead-letter queue takes what the redrive policy moves,
    so it keeps the plain (per-queue) defaults.
    """
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    if not dead_letter:
        attributes["DeduplicationScope"] = "messageGroup"
        attributes["FifoThroughputLimit"] = "perMessageGroupId"
    return attributes


async def create_queues(
    client: Any,
    *,
    prefix: str = DEFAULT_PREFIX,
    name: str = INGEST,
    max_receives: int = DEFAULT_MAX_RECEIVES,
    visibility_timeout_s: int = 30,
    fifo: bool = False,
) -> QueueUrls:
    """Create (or update) a queue and its dead-letter queue with a redrive policy.

    With ``fifo``, both are FIFO queues (``fifo_attributes``): the ``SqsQueue`` on them sends
    each tenant's messages as one message group, so SQS hands one tenant's work to one
    consumer at a time, in order.

    Idempotent: run again, it leaves existing queues in place and reapplies the attributes.

    Raises:
        QueueUnavailable: SQS refused or could not be reached.
    """
    names = queue_names(prefix=prefix, name=name, fifo=fifo)
    try:
        dead_url = await _create_or_update(
            client,
            names.dead_letter,
            {
                "MessageRetentionPeriod": str(_FOURTEEN_DAYS_S),
                **(fifo_attributes(dead_letter=True) if fifo else {}),
            },
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
                **(fifo_attributes(dead_letter=False) if fifo else {}),
            },
        )
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(f"creating queues {names}: {error}") from error
    return QueueUrls(main=main_url, dead_letter=dead_url)


async def find_queues(
    client: Any, *, prefix: str = DEFAULT_PREFIX, name: str = INGEST, fifo: bool = False
) -> QueueUrls:
    """The URLs of existing queues (``.fifo`` names with ``fifo``).

    Raises:
        QueueUnavailable: a queue does not exist or SQS cannot be reached.
    """
    names = queue_names(prefix=prefix, name=name, fifo=fifo)
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
    # FifoQueue is fixed at creation (SetQueueAttributes refuses it); the name says it anyway.
    changeable = {key: value for key, value in attributes.items() if key != "FifoQueue"}
    await client.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    return url
