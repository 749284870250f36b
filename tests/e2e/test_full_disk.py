"""The embedded default on a data disk that fills up, then has room again.

The data directory of ``helios up`` (SQLite store, embedded queue and its idempotency tables) is
put on a tiny tmpfs mounted by the test (we run as root), and the disk is filled with a filler
file: the real embedded queue then fails with SQLite's "database or disk is full". Where mounting
is impossible, an injected queue that fails its sends stands in for the full disk; CI
(``HELIOS_REQUIRE_SERVICES=1``) refuses that fallback, so the real path is always proven there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from workers import drain

from helios.apps.application.tenancy import Issued, TenancyService
from helios.apps.composition import Services, open_services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.settings import Settings
from helios.domain.intake import EnvelopeReceived
from helios.domain.values import SourceKind
from helios.ports.queue import OutgoingMessage, Queue, QueueUnavailable, SeenAs, SendsOnce
from services import services_required

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
DISK_BYTES = 8 * 1024 * 1024

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _FailingSends:
    """The fallback's full disk: sends fail while ``disk.full`` (reads keep working)."""

    def __init__(self, inner: Queue, disk: DataDisk) -> None:
        self.inner = inner
        self.disk = disk

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.disk.full:
            raise QueueUnavailable("database or disk is full (simulated)", retry_after_s=5)
        await self.inner.send(messages)

    async def send_once(self, message: OutgoingMessage, *, seen_as: SeenAs, now_ms: int) -> bool:
        if self.disk.full:
            raise QueueUnavailable("database or disk is full (simulated)", retry_after_s=5)
        assert isinstance(self.inner, SendsOnce)
        return await self.inner.send_once(message, seen_as=seen_as, now_ms=now_ms)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class DataDisk:
    """A data directory on a small filesystem of its own that the test can fill and free."""

    path: Path
    mounted: bool
    full: bool = False

    @property
    def filler(self) -> Path:
        return self.path / "filler"

    def fill(self, *, leave_bytes: int = 0) -> None:
        """Write a file until the filesystem refuses one more byte (or ``leave_bytes`` are left)."""
        self.full = True
        if not self.mounted:
            return
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 1 << 16, 1 << 12, 1):
                chunk = b"\0" * size
                while self.free_bytes() - size >= leave_bytes:
                    try:
                        if os.write(descriptor, chunk) == 0:
                            break
                    except OSError as error:
                        if error.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(descriptor)
        assert self.free_bytes() <= leave_bytes

    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def free(self) -> None:
        self.full = False
        if self.mounted:
            self.filler.unlink()

    def wrap(self, queue: Queue) -> Queue:
        """The queue the API must use: itself on a real disk, a failing stand-in otherwise."""
        return queue if self.mounted else _FailingSends(queue, self)  # type: ignore[return-value]


def _try_mount(target: Path) -> str | None:
    """Mount a tmpfs of DISK_BYTES on ``target``; the reason it failed, or None."""
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else f"mount failed: {done.stderr.strip()}"


@contextlib.contextmanager
def data_disk(root: Path) -> Iterator[DataDisk]:
    """A tmpfs data disk, or (outside CI only) the injected failing queue.

    Raises:
        pytest.fail.Exception: mounting is impossible and HELIOS_REQUIRE_SERVICES=1.
    """
    target = root / "disk"
    target.mkdir()
    reason = _try_mount(target)
    if reason is not None:
        if services_required():
            pytest.fail(f"{reason}; CI must exercise a really full disk, not a stand-in")
        yield DataDisk(path=target, mounted=False)
        return
    try:
        yield DataDisk(path=target, mounted=True)
    finally:
        if subprocess.run(["umount", str(target)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)


@attrs.define
class Clock:
    now_ms: int = attrs.field(factory=lambda: int(time.time() * 1000))

    def __call__(self) -> int:
        return self.now_ms


@attrs.define
class Helios:
    """``helios up``'s services on the data disk, and its API."""

    disk: DataDisk
    services: Services
    client: httpx.AsyncClient
    tenancy: TenancyService
    tenant: str
    clock: Clock

    def integration(self, kind: SourceKind) -> Issued:
        return self.tenancy.create_integration(tenant_id=self.tenant, kind=kind)

    async def stored_bodies(self) -> list[bytes]:
        """Run the ingest worker until the queue is empty; the bodies of recorded envelopes."""
        await drain(self.services, timeout_s=30)
        return [
            entry.event.envelope.body
            for entry in self.services.store.read_log(0, 10_000)
            if isinstance(entry.event, EnvelopeReceived)
        ]


@contextlib.asynccontextmanager
async def helios_on(disk: DataDisk, **settings: Any) -> AsyncIterator[Helios]:
    """The real composition root over the data disk, serving the API in-process."""
    async with open_services(Settings(data_dir=disk.path, **settings)) as services:
        services.queue = disk.wrap(services.queue)
        clock = Clock()
        config = ApiConfig(key_miss_refresh_s=1e-9)
        app = create_app(services, config=config, clock=clock)
        tenancy = TenancyService(services.store, clock=clock, secrets=services.secrets)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://helios.test") as client:
            yield Helios(
                disk=disk,
                services=services,
                client=client,
                tenancy=tenancy,
                tenant=tenancy.create_tenant("acme").tenant_id,
                clock=clock,
            )


@pytest.fixture
async def helios(tmp_path: Path) -> AsyncIterator[Helios]:
    """No free-space reserve: the queue fails only when SQLite itself cannot write."""
    with data_disk(tmp_path) as disk:
        async with helios_on(disk, queue_min_free_bytes=0) as running:
            yield running


def _example(name: str) -> bytes:
    [found] = FIXTURES.glob(f"*/{name}")
    return found.read_bytes()


async def _post_until_stored(
    helios: Helios, url: str, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST on a full disk (503), free it, POST the same request 5 s later; the second answer."""
    helios.disk.fill()
    refused = await helios.client.post(url, content=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "5"
    helios.disk.free()
    helios.clock.now_ms += 5_000
    return await helios.client.post(url, content=body, headers=headers)


async def test_an_alertmanager_retry_after_a_full_disk_is_accepted_and_stored(
    helios: Helios,
) -> None:
    """The identical POST after the 503 is enqueued (not "duplicate") and reaches the store."""
    issued = helios.integration(SourceKind.ALERTMANAGER)
    body = _example("webhook_v4_firing.json")
    retried = await _post_until_stored(
        helios, f"/v1/ingest/alertmanager/{issued.routing_key}", body
    )
    assert retried.status_code == 202
    assert retried.json()["status"] == "accepted"
    assert await helios.stored_bodies() == [body]


async def test_a_retry_with_an_idempotency_key_after_a_full_disk_is_accepted_and_stored(
    helios: Helios,
) -> None:
    """The key of the refused request was released: its retry is processed, not 409 or 422."""
    issued = helios.integration(SourceKind.ALERTMANAGER)
    body = _example("webhook_v4_firing.json")
    headers = {"Idempotency-Key": "am-retry-1"}
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    retried = await _post_until_stored(helios, url, body, headers)
    assert retried.status_code == 202
    assert retried.json()["status"] == "accepted"
    assert (await helios.client.post(url, content=body, headers=headers)).json() == retried.json()
    assert await helios.stored_bodies() == [body]


async def test_a_pagerduty_retry_after_a_full_disk_is_accepted_and_stored(
    helios: Helios,
) -> None:
    """``/v2/enqueue`` retries get "success" only once the event is really on the queue."""
    issued = helios.integration(SourceKind.PAGERDUTY)
    event = json.loads(_example("pagerduty_v2_trigger.json"))
    body = json.dumps({**event, "routing_key": issued.routing_key}).encode()
    retried = await _post_until_stored(helios, "/v2/enqueue", body)
    assert retried.status_code == 202
    assert retried.json()["status"] == "success"
    assert await helios.stored_bodies() == [body]


async def test_a_signed_generic_retry_after_a_full_disk_is_accepted_and_stored(
    helios: Helios,
) -> None:
    """A refused request did not use up its signature: the retry is not a "replay" (401)."""
    issued = helios.integration(SourceKind.GENERIC)
    body = json.dumps(
        {"action": "trigger", "summary": "Disk full on db-1", "dedup_key": "db-1/disk"}
    ).encode()
    header = signatures.signature_header(issued.signing_secret, helios.clock() // 1000, body)
    retried = await _post_until_stored(
        helios,
        f"/v1/ingest/generic/{issued.routing_key}",
        body,
        {"X-Helios-Signature": header},
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "accepted"
    assert await helios.stored_bodies() == [body]
    replayed = await helios.client.post(
        f"/v1/ingest/generic/{issued.routing_key}",
        content=body,
        headers={"X-Helios-Signature": header},
    )
    assert replayed.status_code == 401


# --- readiness --------------------------------------------------------------------------------


async def _readiness(helios: Helios) -> tuple[int, dict[str, str]]:
    ready = await helios.client.get("/readyz")
    return ready.status_code, ready.json()["checks"]


async def test_readiness_says_not_ready_while_the_data_disk_is_full(helios: Helios) -> None:
    """/readyz proves a write can be committed: a full disk is 503, freed space is 200 again."""
    if not helios.disk.mounted:
        pytest.skip("the injected failing queue has no disk to be full")
    assert await _readiness(helios) == (200, {"store": "ok", "queue": "ok", "limiter": "ok"})
    helios.disk.fill()
    status, checks = await _readiness(helios)
    assert status == 503
    assert checks["queue"].startswith("failed: QueueUnavailable"), checks
    assert "full" in checks["queue"]
    helios.disk.free()
    assert await _readiness(helios) == (200, {"store": "ok", "queue": "ok", "limiter": "ok"})


async def test_below_the_free_space_reserve_the_queue_is_not_ready_and_takes_no_event(
    tmp_path: Path,
) -> None:
    """Readiness and ingestion agree: under the reserve both say 503, above it both say yes."""
    reserve = 3 * 1024 * 1024
    with data_disk(tmp_path) as disk:
        if not disk.mounted:
            pytest.skip("the injected failing queue has no disk to be full")
        async with helios_on(disk, queue_min_free_bytes=reserve) as helios:
            issued = helios.integration(SourceKind.ALERTMANAGER)
            url = f"/v1/ingest/alertmanager/{issued.routing_key}"
            body = _example("webhook_v4_firing.json")
            assert (await _readiness(helios))[0] == 200
            disk.fill(leave_bytes=reserve - 512 * 1024)
            status, checks = await _readiness(helios)
            assert status == 503
            assert "reserve" in checks["queue"], checks
            refused = await helios.client.post(url, content=body)
            assert refused.status_code == 503
            disk.free()
            assert (await _readiness(helios))[0] == 200
            accepted = await helios.client.post(url, content=body)
            assert accepted.json()["status"] == "accepted"
            assert await helios.stored_bodies() == [body]
