"""Splitting entries into SQS batches: at most 10 entries and 256 KiB of payload per call."""

from __future__ import annotations

from collections.abc import Sequence

MAX_BATCH_ENTRIES = 10
MAX_PAYLOAD_BYTES = 262_144
"""The SQS limit for one message and for a whole batch (body plus message attributes)."""


def split_batches(
    sizes: Sequence[int],
    *,
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> list[list[int]]:
    """Indexes of ``sizes`` grouped in order into batches that respect both limits.

    Raises:
        ValueError: one entry alone is larger than ``max_bytes`` (it needs a blob pointer).
    """
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index, size in enumerate(sizes):
        if size > max_bytes:
            raise ValueError(f"entry {index} is {size} bytes, above the {max_bytes} limit")
        if current and (len(current) == max_entries or current_bytes + size > max_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        batches.append(current)
    return batches
