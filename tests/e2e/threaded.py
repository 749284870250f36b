"""Helios run whole in a thread, for tests that talk to it over real HTTP: the workers and
the projector, with the API ``helios up`` serves or a server the test builds."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import uvicorn

from helios.apps.composition import Services, open_services
from helios.apps.embedded.runner import run_everything
from helios.apps.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_in_thread(
    settings: Settings, server: Callable[[Services], uvicorn.Server] | None = None
) -> Iterator[list[BaseException]]:
    """Run everything over ``settings`` on an event loop of its own in a thread until the
    block ends, then stop it. ``server`` builds the API's server over the services (default:
    ``run_everything`` serves the API itself).

    Yields the list that receives what the thread raised, for the test to assert empty.
    """
    loop = asyncio.new_event_loop()
    stops: list[asyncio.Event] = []
    failure: list[BaseException] = []

    async def main() -> None:
        stop = asyncio.Event()
        stops.append(stop)
        async with open_services(settings) as services:
            if server is None:
                await run_everything(services, stop)
                return
            serving_server = server(services)
            serving = asyncio.ensure_future(serving_server.serve())
            try:
                await run_everything(services, stop, api=False)
            finally:
                serving_server.should_exit = True
                await serving

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as error:  # reported by the fixture, not swallowed
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield failure
    loop.call_soon_threadsafe(stops[0].set)
    thread.join(timeout=30)
    if not thread.is_alive():
        # Closed here, not by the garbage collector during some later test.
        loop.close()


def wait_until_healthy(
    http: httpx.Client, failure: list[BaseException], timeout_s: float = 20
) -> None:
    """Wait for ``/healthz`` to answer 200.

    Raises:
        AssertionError: the thread running Helios failed, or the API did not start in time.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert not failure, failure
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)


def wait_for(check: Callable[[], T], timeout_s: float) -> T:
    """The first true result of ``check``, called every 0.1 s.

    Raises:
        AssertionError: ``check`` gave none within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
