"""``SendsOnce`` on the embedded queue: content deduplication in the commit that enqueues.

What the API relies on when its queue offers it: a repeat is refused exactly when (and for as
long as) its first is durably on the queue, in every process that shares the file; a send that
fails leaves nothing remembered; and no ``kill -9`` can separate an enqueued message from the
memory of its fingerprint.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.ports.queue import (
    MessageAttributes,
    OutgoingMessage,
    QueueUnavailable,
    SeenAs,
    SendsOnce,
)

pytestmark = pytest.mark.anyio

ATTRIBUTES = MessageAttributes(tenant="tenant-a", correlation_id="corr-1", kind="test.v1")
WINDOW_MS = 10_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def t0_ms() -> int:
    """Now: the queue sweeps expired ids by its own clock, which callers' times agree with."""
    return int(time.time() * 1000)


def message(body: bytes) -> OutgoingMessage:
    return OutgoingMessage(body=body, attributes=ATTRIBUTES)


def seen(fingerprint: str, scope: str = "body:tenant-a/int-1") -> SeenAs:
    return SeenAs(scope=scope, fingerprint=fingerprint, window_ms=WINDOW_MS)


async def enqueued_bodies(queue: EmbeddedQueue) -> list[bytes]:
    """Every message on the queue (received, so hidden for a minute, and not deleted)."""
    taken = []
    while batch := await queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=60):
        taken.extend(batch)
    return sorted(m.body for m in taken)


async def test_the_embedded_queue_sends_once() -> None:
    """The API finds the capability on the embedded queue itself."""
    assert issubclass(EmbeddedQueue, SendsOnce)


async def test_a_repeat_within_the_window_is_refused_and_after_it_is_enqueued(
    tmp_path: Path,
    t0_ms: int,
) -> None:
    """First: enqueued; the same fingerprint within the window: nothing; after it: again."""
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        assert await queue.send_once(message(b"1"), seen_as=seen("fp"), now_ms=t0_ms)
        later = t0_ms + WINDOW_MS - 1
        assert not await queue.send_once(message(b"2"), seen_as=seen("fp"), now_ms=later)
        assert await queue.send_once(message(b"3"), seen_as=seen("other"), now_ms=later)
        assert await queue.send_once(
            message(b"4"), seen_as=seen("fp", scope="body:tenant-b/int-2"), now_ms=later
        )
        after = t0_ms + WINDOW_MS
        assert await queue.send_once(message(b"5"), seen_as=seen("fp"), now_ms=after)
        assert await enqueued_bodies(queue) == [b"1", b"3", b"4", b"5"]


async def test_another_process_on_the_file_refuses_what_one_enqueued(
    tmp_path: Path, t0_ms: int
) -> None:
    """Two API processes share the file: a repeat sent to the other one is refused too."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path) as one, EmbeddedQueue(path=path) as other:
        assert await one.send_once(message(b"first"), seen_as=seen("fp"), now_ms=t0_ms)
        assert not await other.send_once(message(b"again"), seen_as=seen("fp"), now_ms=t0_ms)
        assert await enqueued_bodies(other) == [b"first"]


async def test_twins_sent_at_once_share_one_commit_and_are_enqueued_once(
    tmp_path: Path, t0_ms: int
) -> None:
    """Concurrent repeats of one fingerprint: exactly one of them is enqueued."""
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        answers = await asyncio.gather(
            *(
                queue.send_once(message(b"%d" % n), seen_as=seen("fp"), now_ms=t0_ms)
                for n in range(8)
            )
        )
        assert sorted(answers) == [False] * 7 + [True]
        assert len(await enqueued_bodies(queue)) == 1


async def test_a_send_that_fails_remembers_nothing_so_its_retry_is_enqueued(
    tmp_path: Path,
    t0_ms: int,
) -> None:
    """A refused commit (below the disk reserve) leaves no fingerprint behind, for it nor for
    the twin that shared its group."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path, min_free_bytes=1 << 62) as cramped:
        refused = await asyncio.gather(
            cramped.send_once(message(b"first"), seen_as=seen("fp"), now_ms=t0_ms),
            cramped.send_once(message(b"twin"), seen_as=seen("fp"), now_ms=t0_ms),
            return_exceptions=True,
        )
        assert all(isinstance(answer, QueueUnavailable) for answer in refused)
    async with EmbeddedQueue(path=path) as roomy:
        assert await roomy.send_once(message(b"retry"), seen_as=seen("fp"), now_ms=t0_ms)
        assert await enqueued_bodies(roomy) == [b"retry"]


async def test_a_window_that_is_not_positive_is_refused(tmp_path: Path, t0_ms: int) -> None:
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        with pytest.raises(ValueError, match="window_ms"):
            await queue.send_once(
                message(b"1"),
                seen_as=SeenAs(scope="s", fingerprint="f", window_ms=0),
                now_ms=t0_ms,
            )


async def test_kill_9_never_separates_an_enqueued_message_from_its_remembered_fingerprint(
    tmp_path: Path,
    t0_ms: int,
) -> None:
    """A process sending distinct fingerprints (each its message's body) is SIGKILLed
    mid-stream. Then, for every fingerprint it began to send, sending it again yields exactly
    one message with that body: never zero (remembered, not enqueued: an accepted alert
    lost) nor two (enqueued, not remembered)."""
    path = tmp_path / "queue.db"
    started = tmp_path / "started"
    script = textwrap.dedent(
        f"""
        import asyncio
        from helios.adapters.embedded_queue import EmbeddedQueue
        from helios.ports.queue import MessageAttributes, OutgoingMessage, SeenAs

        async def main():
            attributes = MessageAttributes(tenant="t", correlation_id="c", kind="k")
            async with EmbeddedQueue(path={str(path)!r}) as queue:
                with open({str(started)!r}, "a", buffering=1) as log:
                    n = 0
                    while True:
                        sends = []
                        for _ in range(4):
                            fingerprint = f"fp-{{n}}"
                            log.write(fingerprint + "\\n")
                            sends.append(queue.send_once(
                                OutgoingMessage(body=fingerprint.encode(), attributes=attributes),
                                seen_as=SeenAs(scope="s", fingerprint=fingerprint,
                                               window_ms=3_600_000),
                                now_ms={t0_ms},
                            ))
                            n += 1
                        await asyncio.gather(*sends)

        asyncio.run(main())
        """
    )
    sender = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            not started.exists() or started.read_text().count("\n") < 200
        ):
            await asyncio.sleep(0.05)
        os.kill(sender.pid, signal.SIGKILL)
    finally:
        sender.kill()
        sender.wait()
    fingerprints = started.read_text().split()
    assert len(fingerprints) >= 200
    async with EmbeddedQueue(path=path) as queue:
        for fingerprint in fingerprints:
            await queue.send_once(
                message(fingerprint.encode()),
                seen_as=SeenAs(scope="s", fingerprint=fingerprint, window_ms=3_600_000),
                now_ms=t0_ms,
            )
        counted = await enqueued_bodies(queue)
    assert sorted(counted) == sorted(f.encode() for f in fingerprints)
