"""An SQS-compatible server that honours FIFO message groups, for the FIFO tests.

moto (5.2.5, the shared test server) hands a FIFO message group's next message to a receive
that was already long-polling when the group's first message was taken: it reads the groups
in flight once, when the receive starts, and never again while it waits
(``tests/contract/test_sqs_fifo.py`` fails on it for that reason). The same reading, made only
once per call, also redelivers a timed-out group last message first. Every ingest worker
long-polls all the time, so on stock moto two workers can decide one tenant's messages at once,
the very race FIFO routing removes.

Run as a script, this module starts moto's server with ``receive_message`` corrected: each
attempt first returns timed-out messages to the queue (so a group is redelivered in order),
then selects under one lock, with the groups in flight read fresh and moto's clock stopped; a
waiting receive sleeps between attempts outside the lock. Everything else is moto's own.
``HELIOS_TEST_SQS_FIFO_URL`` points the tests at another server instead (real SQS, say).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

FIFO_URL_VAR = "HELIOS_TEST_SQS_FIFO_URL"
_POLL_S = 0.02


def _patch_moto() -> None:
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    lock = threading.Lock()

    def receive_message(  # noqa: PLR0917  (moto's own signature, called positionally)
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        queue = self.get_queue(queue_name)
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with lock, _clock_stopped():
                for message in list(queue.pending_messages):
                    if message.visible:  # its visibility timed out: no longer in flight
                        queue.pending_messages.discard(message)
                found = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if found or time.monotonic() >= deadline:
                return list(found)
            if queue.messages:  # visible ones, but their groups are in flight
                time.sleep(_POLL_S)
            else:
                queue.wait_for_messages(min(1, max(0.0, deadline - time.monotonic())))

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


@contextlib.contextmanager
def _clock_stopped() -> Iterator[None]:
    """moto's SQS clock held at one instant: no timeout ends half-way through one selection
    (else a group's last message, timing out after its first ones were passed over as in
    flight, is redelivered first)."""
    from moto.sqs import models

    running = models.unix_time_millis  # type: ignore[attr-defined]
    now = running()
    models.unix_time_millis = lambda *_: now  # type: ignore[attr-defined]
    try:
        yield
    finally:
        models.unix_time_millis = running  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def fifo_sqs_server() -> Iterator[str]:
    """The endpoint URL of a private FIFO-honouring server (or ``HELIOS_TEST_SQS_FIFO_URL``)."""
    given = os.environ.get(FIFO_URL_VAR)
    if given:
        yield given
        return
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the FIFO SQS test server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    _patch_moto()
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
