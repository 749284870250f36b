"""The API and worker processes of ``helios up`` freeze their start-up heap before they serve,
so that the cycle collector's full collections (which stop every request in flight, and every
batch) no longer walk it."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from threaded import free_port

from helios.apps.composition import open_services
from helios.apps.embedded.heap import YOUNG_COLLECTION, freeze_start_up_heap
from helios.apps.embedded.runner import CHILD_ROLES
from helios.apps.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Each test starts and leaves the test process with nothing frozen, and the collector's
    thresholds as they were."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def walked(thing: object) -> bool:
    """Whether the cycle collector's generations hold ``thing`` (frozen objects are in none)."""
    return any(any(o is thing for o in gc.get_objects(g)) for g in range(3))


def test_freezing_the_start_up_heap_takes_what_is_alive_out_of_the_collections() -> None:
    alive = {"made": ["at start-up"]}
    assert walked(alive)
    frozen = freeze_start_up_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert not walked(alive)
    made_later = {"made": ["while serving"]}
    assert walked(made_later)


@pytest.mark.anyio
async def test_the_api_process_serves_with_its_start_up_heap_frozen(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", http_port=port, log_level="warning")
    async with open_services(settings) as services:
        assert gc.get_freeze_count() == 0 and walked(services)
        stop = asyncio.Event()
        serving = asyncio.create_task(CHILD_ROLES["api"](services, stop))
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(200):
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                else:
                    pytest.fail("the API did not answer /healthz")
            assert gc.get_freeze_count() > 0
            assert not walked(services)
            assert gc.get_threshold()[0] == YOUNG_COLLECTION
        finally:
            stop.set()
            await serving


@pytest.mark.anyio
async def test_the_worker_process_runs_with_its_start_up_heap_frozen(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", log_level="warning")
    async with open_services(settings) as services:
        assert gc.get_freeze_count() == 0 and walked(services)
        stop = asyncio.Event()
        running = asyncio.create_task(CHILD_ROLES["worker"](services, stop))
        try:
            for _ in range(200):
                if gc.get_freeze_count() > 0:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the worker did not freeze its start-up heap")
            assert not walked(services)
            assert gc.get_threshold()[0] == YOUNG_COLLECTION
        finally:
            stop.set()
            await running
