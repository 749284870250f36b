"""The queue port on Amazon SQS (aioboto3), its provisioning, and payload stores."""

from helios.adapters.blobs import FileBlobStore, MemoryBlobStore
from helios.adapters.sqs.connection import SqsSettings, open_sqs_queue, sqs_client
from helios.adapters.sqs.provisioning import (
    QueueNames,
    QueueUrls,
    create_queues,
    delete_queues,
    find_queues,
    queue_names,
)
from helios.adapters.sqs.queue import SqsQueue

__all__ = [
    "FileBlobStore",
    "MemoryBlobStore",
    "QueueNames",
    "QueueUrls",
    "SqsQueue",
    "SqsSettings",
    "create_queues",
    "delete_queues",
    "find_queues",
    "open_sqs_queue",
    "queue_names",
    "sqs_client",
]
