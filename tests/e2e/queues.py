"""A real queue for worker tests: the embedded SQLite queue, or SQS on the moto server.

``open_test_queue`` gives each test queues of its own (the moto server is shared between test
runs) and deletes them afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqs import MemoryBlobStore, SqsQueue, SqsSettings, create_queues, sqs_client
from helios.adapters.sqs.provisioning import delete_queues
from helios.ports.queue import Queue

QUEUE_KINDS = ["embedded", pytest.param("sqs", marks=pytest.mark.sqs)]
"""``params`` of a queue fixture: every adapter a worker runs on."""

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextlib.asynccontextmanager
async def open_test_queue(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    purpose: str = "worker",
) -> AsyncIterator[Queue]:
    """The queue ``request.param`` names (``embedded`` or ``sqs``); SQS queue names carry
    ``purpose``, to tell the suites' queues apart on the shared server."""
    if request.param == "embedded":
        async with EmbeddedQueue(path=tmp_path / "queue.db", poll_interval_s=0.02) as embedded:
            yield embedded
        return
    # Asked for here only, so that a missing server skips (or fails) the SQS case alone.
    endpoint = request.getfixturevalue("sqs_endpoint")
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    async with sqs_client(SqsSettings(endpoint_url=endpoint, max_attempts=2)) as client:
        urls = await create_queues(client, prefix=f"t{uuid.uuid4().hex[:12]}-{purpose}-")
        try:
            yield SqsQueue(
                client=client,
                queue_url=urls.main,
                dead_letter_url=urls.dead_letter,
                blob_store=MemoryBlobStore(),
            )
        finally:
            await delete_queues(client, urls)
