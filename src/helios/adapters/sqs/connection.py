"""Opening an SQS client and a queue from settings, with bounded timeouts and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
import attrs
from botocore.config import Config

from helios.adapters.sqs.provisioning import DEFAULT_PREFIX, INGEST, find_queues
from helios.adapters.sqs.queue import SqsQueue
from helios.ports.queue import BlobStore


@attrs.frozen(kw_only=True)
class SqsSettings:
    endpoint_url: str | None = None
    """None for AWS itself; a loopback URL for an SQS-compatible server."""
    region: str = "us-east-1"
    prefix: str = DEFAULT_PREFIX
    name: str = INGEST
    fifo: bool = False
    """The queue and its dead-letter queue are FIFO (``<prefix><name>.fifo``): one message
    group per tenant."""
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 25.0
    """Must exceed the 20 s long poll, or every idle receive would time out."""
    max_attempts: int = 3
    """Per API call, first attempt included (botocore's standard retry mode, with backoff)."""


@asynccontextmanager
async def sqs_client(settings: SqsSettings) -> AsyncIterator[Any]:
    """An aiobotocore SQS client; credentials come from the usual AWS chain."""
    config = Config(
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
    )
    session = aioboto3.Session()
    async with session.client(
        "sqs", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
    ) as client:
        yield client


@asynccontextmanager
async def open_sqs_queue(
    settings: SqsSettings, *, blob_store: BlobStore
) -> AsyncIterator[SqsQueue]:
    """The ``Queue`` port on existing SQS queues (see ``create_queues``).

    Raises:
        QueueUnavailable: the queues do not exist or SQS cannot be reached.
    """
    async with sqs_client(settings) as client:
        urls = await find_queues(
            client, prefix=settings.prefix, name=settings.name, fifo=settings.fifo
        )
        yield SqsQueue(
            client=client,
            queue_url=urls.main,
            dead_letter_url=urls.dead_letter,
            blob_store=blob_store,
        )
