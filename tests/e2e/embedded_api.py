"""Fixtures for tests of the HTTP edge that need no particular queue: the API of
``test_ingest_api`` over the embedded queue, and the local CA that signs SNS messages.

A test module registers them by importing them (pytest finds fixtures among a module's names);
they go by the names ``anyio_backend``, ``ca`` and ``api``, so that the module's tests can take
those arguments without shadowing what they import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_ingest_api import Api, Ca, make_api, make_ca

from helios.adapters.embedded_queue import EmbeddedQueue


@pytest.fixture(name="anyio_backend")
def asyncio_backend() -> str:
    return "asyncio"


@pytest.fixture(name="ca", scope="module")
def local_ca() -> Ca:
    return make_ca()


@pytest.fixture(name="api")
async def embedded_api(tmp_path: Path, ca: Ca) -> AsyncIterator[Api]:
    """The ingestion API on the embedded queue, for tests whose point is not the queue."""
    async with EmbeddedQueue(path=tmp_path / "q.db", poll_interval_s=0.02) as embedded:
        async for made in make_api(embedded, ca):
            yield made
