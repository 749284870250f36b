"""Events refused with 503 and retried after recovery: how many end up stored.

    .venv/bin/python bench/retry_after_503.py [--events 200] [--tmpfs]

The embedded default's services (``open_services``: SQLite store, embedded queue, idempotency
keys in the queue's file) in a temporary data directory, and the API in-process over httpx.
Events cycle through three sources: Alertmanager webhooks, PagerDuty ``/v2/enqueue`` triggers
and signed generic events, each with its own body. Every event is first POSTed while the queue
cannot take it (by default a queue whose sends fail; with ``--tmpfs``, as root, a real tmpfs
data disk filled to the last byte), and must get 503. Then the queue recovers, the clock moves
on 5 s (the ``Retry-After``), and the identical request (same body, same signature header) is
sent again. The ingest worker then drains the queue into the store.

Printed: how many first attempts got 503, how many retries were accepted (and how many were
wrongly answered "duplicate" or refused), and how many events the store finally holds — which
must be every one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.workers.ingest import IngestWorker
from helios.domain.intake import EnvelopeReceived
from helios.domain.values import SourceKind
from helios.ports.queue import OutgoingMessage, Queue, QueueUnavailable

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "payloads"


class Outage:
    """What makes the queue refuse: a switch on its sends, or a full tmpfs."""

    def __init__(self, directory: Path, *, tmpfs: bool) -> None:
        self.directory = directory
        self.tmpfs = tmpfs
        self.down = False

    def start(self) -> None:
        self.down = True
        if self.tmpfs:
            descriptor = os.open(self.directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for size in (1 << 20, 1 << 12, 1):
                    with contextlib.suppress(OSError):
                        while os.write(descriptor, b"\0" * size):
                            pass
            finally:
                os.close(descriptor)

    def end(self) -> None:
        self.down = False
        if self.tmpfs:
            (self.directory / "filler").unlink()


class SwitchableQueue:
    """The real queue, whose sends fail while the outage is on (without ``--tmpfs``)."""

    def __init__(self, inner: Queue, outage: Outage) -> None:
        self.inner = inner
        self.outage = outage

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.outage.down and not self.outage.tmpfs:
            raise QueueUnavailable("the queue is failing", retry_after_s=5)
        await self.inner.send(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextlib.contextmanager
def data_directory(tmpfs: bool) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="helios-retry-") as root:
        path = Path(root) / "data"
        path.mkdir()
        if not tmpfs:
            yield path
            return
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(path)], check=True)
        try:
            yield path
        finally:
            if subprocess.run(["umount", str(path)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(path)], check=False)


class Clock:
    def __init__(self) -> None:
        self.now_ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now_ms


def requests(
    tenancy: TenancyService, tenant: str, count: int, clock: Clock
) -> list[dict[str, Any]]:
    """``count`` distinct requests (url, body, headers), cycling through three sources."""
    am = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
    pd = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
    generic = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GENERIC)
    webhook = json.loads((FIXTURES / "examples" / "alertmanager_v4_firing.json").read_text())
    trigger = json.loads((FIXTURES / "examples" / "pagerduty_v2_trigger.json").read_text())
    made: list[dict[str, Any]] = []
    for number in range(count):
        match number % 3:
            case 0:
                alerts = [
                    {**alert, "fingerprint": f"fp-{number}-{index}",
                     "labels": {**alert["labels"], "instance": f"host-{number}"}}
                    for index, alert in enumerate(webhook["alerts"])
                ]  # fmt: skip
                body = json.dumps({**webhook, "alerts": alerts}).encode()
                made.append({"url": f"/v1/ingest/alertmanager/{am.routing_key}", "body": body})
            case 1:
                event = {**trigger, "routing_key": pd.routing_key, "dedup_key": f"pd-{number}"}
                made.append({"url": "/v2/enqueue", "body": json.dumps(event).encode()})
            case _:
                body = json.dumps(
                    {"action": "trigger", "summary": f"event {number}", "dedup_key": f"g-{number}"}
                ).encode()
                header = signatures.signature_header(generic.signing_secret, clock() // 1000, body)
                made.append(
                    {
                        "url": f"/v1/ingest/generic/{generic.routing_key}",
                        "body": body,
                        "headers": {"X-Helios-Signature": header},
                    }
                )
    return made


def outcome(response: httpx.Response) -> str:
    if response.status_code != 202:
        return str(response.status_code)
    return str(response.json().get("status"))


async def run(count: int, tmpfs: bool) -> dict[str, Any]:
    with data_directory(tmpfs) as directory:
        # No free-space reserve: on the tmpfs the queue must fail because SQLite cannot write.
        settings = Settings(data_dir=directory, queue_min_free_bytes=0)
        async with open_services(settings) as services:
            outage = Outage(directory, tmpfs=tmpfs)
            services.queue = SwitchableQueue(services.queue, outage)  # type: ignore[assignment]
            clock = Clock()
            config = ApiConfig(
                key_miss_refresh_s=1e-9,
                rate_per_integration=10_000,
                burst_per_integration=10_000,
                rate_per_tenant=10_000,
                burst_per_tenant=10_000,
            )
            app = create_app(services, config=config, clock=clock)
            tenancy = TenancyService(services.store, clock=clock)
            tenant = tenancy.create_tenant("bench").tenant_id
            batch = requests(tenancy, tenant, count, clock)
            async with client_for(app) as client:
                outage.start()
                first = Counter([outcome(await client.post(**r_args(r))) for r in batch])
                outage.end()
                clock.now_ms += 5_000
                retried = Counter([outcome(await client.post(**r_args(r))) for r in batch])
            started = time.perf_counter()
            await drain(services)
            drained_s = time.perf_counter() - started
            stored_bodies = {
                entry.event.envelope.body
                for entry in services.store.read_log(0, 1_000_000)
                if isinstance(entry.event, EnvelopeReceived)
            }
            stored = sum(1 for r in batch if r["body"] in stored_bodies)
    return {"first": first, "retried": retried, "stored": stored, "drained_s": drained_s}


def r_args(request: dict[str, Any]) -> dict[str, Any]:
    return {"url": request["url"], "content": request["body"], "headers": request.get("headers")}


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://helios.bench") as client:
        yield client


async def drain(services: Any) -> None:
    stop = asyncio.Event()
    worker = IngestWorker(queue=services.queue, store=services.store, wait_s=0.2)
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(120):
            while await services.queue.depth() > 0:
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument(
        "--tmpfs", action="store_true", help="a really full tmpfs data disk (needs root)"
    )
    args = parser.parse_args()
    # The 503s are expected here: their warnings would drown the numbers.
    configure_logging(log_format="json", level="error")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = asyncio.run(run(args.events, args.tmpfs))
    count = args.events
    print(f"outage                      {'full tmpfs' if args.tmpfs else 'queue sends failing'}")
    print(f"events                      {count}")
    print(f"first attempt answered 503  {result['first'].get('503', 0)}/{count}")
    accepted = result["retried"].get("accepted", 0) + result["retried"].get("success", 0)
    print(f"retry accepted / success    {accepted}/{count}")
    wrong = {k: v for k, v in result["retried"].items() if k not in ("accepted", "success")}
    print(f"retry answered otherwise    {sum(wrong.values())} {dict(wrong) or ''}".rstrip())
    print(f"stored after the worker     {result['stored']}/{count}")
    print(f"worker drain                {result['drained_s']:.2f} s")
    return 0 if result["stored"] == count else 1


if __name__ == "__main__":
    sys.exit(main())
