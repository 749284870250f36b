"""Where the µs of one accepted Alertmanager webhook go, in the API process, without HTTP.

    .venv/bin/python bench/accept.py [--requests 3000] [--concurrency 32] [--alerts 10]
                                     [--profile] [--rounds 3]

The API app (``create_app``) over real embedded services (SQLite event store, the durable
SQLite queue and idempotency file, in-process limiter) in a temporary directory is called as
an ASGI application straight from this process, ``--concurrency`` requests at a time, each a
webhook of ``--alerts`` new distinct alerts (as Alertmanager sends them). Beside it, in the
same process and the same rounds, a bare route that only reads and decodes the body: the
ratio of the two is what the machine's load does not move much. Printed: requests/s and
alerts/s of each, the ratio, and the µs per request of the accept path's parts measured
alone (authentication lookup, rate limit, shape check, the normalizer run as a check, the
durable enqueue with its commit, the content-dedup read and write, and the enqueue that does
both in its own commit where the queue can), then, with
``--profile``, the functions that take the event loop's time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import orjson
from litestar import Request, Response, post


@post("/bare", status_code=202)
async def bare(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The floor: read the body, decode the JSON, answer."""
    document = orjson.loads(await request.body())
    return Response(content=b'{"status":"ok","fields":%d}' % len(document))


def webhook(first: int, alerts: int) -> bytes:
    items = [
        {
            "status": "firing",
            "labels": {"alertname": "Bench", "service": f"svc-{n // 100}", "bench_seq": str(n)},
            "annotations": {"summary": f"alert {n}"},
            "startsAt": "2030-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example/graph",
            "fingerprint": f"{n:016x}",
        }
        for n in range(first, first + alerts)
    ]
    document = {"version": "4", "status": "firing", "receiver": "helios", "groupKey": str(first)}
    return orjson.dumps({**document, "alerts": items})


async def call(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One POST through the ASGI interface; returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def load(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], args: argparse.Namespace, first: int
) -> float:
    """Requests/s of ``args.requests`` POSTs, ``args.concurrency`` at a time."""
    counter = iter(range(args.requests))
    statuses: list[int] = []

    async def client() -> None:
        for n in counter:
            body = webhook(first + n * args.alerts, args.alerts)
            statuses.append(await call(app, path, body, headers))

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - began
    refused = [s for s in statuses if s >= 300]
    if refused:
        raise RuntimeError(f"{len(refused)} requests refused on {path}: {sorted(set(refused))}")
    return args.requests / elapsed


async def per_call_us(fn: Callable[[], Awaitable[object] | object], times: int = 300) -> float:
    """Median µs of ``fn`` alone, one call at a time."""
    samples = []
    for _ in range(times):
        began = time.perf_counter_ns()
        result = fn()
        if asyncio.iscoroutine(result):
            await result
        samples.append((time.perf_counter_ns() - began) / 1000)
    return statistics.median(samples)


async def parts(services: Any, app_state: Any, key: str, alerts: int) -> dict[str, float]:
    """µs of each part of the accept path on its own (sequential, no contention)."""
    from helios.apps.application.envelopes import envelope_message
    from helios.apps.http import shapes
    from helios.domain.values import Envelope, SourceKind

    intake = app_state.intake
    who = await intake.authenticate(key, source=SourceKind.ALERTMANAGER)
    body = webhook(10**9, alerts)
    envelope = Envelope(
        ingest_id="x" * 32,
        tenant=who.tenant_id,
        integration=who.integration.integration_id,
        source=SourceKind.ALERTMANAGER,
        received_at=intake.now(),
        body=body,
        content_type="application/json",
        headers=(),
    )
    counter = iter(range(10**9))
    # Each check gets a body never seen before, as under load (the same body again would
    # only show the memos of normalization).
    fresh = iter(
        [attrs.evolve(envelope, body=webhook(10**9 + (n + 1) * alerts, alerts)) for n in range(300)]
    )
    return {
        "authentication (key lookup, cached)": await per_call_us(
            lambda: intake.authenticate(key, source=SourceKind.ALERTMANAGER)
        ),
        "rate limit": await per_call_us(lambda: intake.limit(who)),
        "decode + shape check": await per_call_us(
            lambda: shapes.check_source(SourceKind.ALERTMANAGER, shapes.decode_object(body))
        ),
        "normalizer run as a check, new body": await per_call_us(
            lambda: shapes.check_normalizes(next(fresh))
        ),
        "content-dedup read": await per_call_us(
            lambda: services.idempotency.recently_seen(
                scope="bench", fingerprint=str(next(counter)), now_ms=intake.now()
            )
        ),
        "content-dedup write": await per_call_us(
            lambda: services.idempotency.remember_seen(
                scope="bench", fingerprint=str(next(counter)), window_ms=60_000, now_ms=intake.now()
            )
        ),
        "durable enqueue, alone (commit + fsync)": await per_call_us(
            lambda: services.queue.send([envelope_message(envelope, correlation_id="c")]),
            times=100,
        ),
        **(await _send_once_part(services.queue, envelope, counter, intake.now)),
    }


async def _send_once_part(
    queue: Any, envelope: Any, counter: Any, now: Callable[[], int]
) -> dict[str, float]:
    """The enqueue with the content-dedup read and write in its commit, where the queue does
    it (``SendsOnce``: the embedded queue) — what replaces the three parts above."""
    from helios.apps.application.envelopes import envelope_message
    from helios.ports.queue import SeenAs, SendsOnce

    if not isinstance(queue, SendsOnce):
        return {}

    def send_once() -> Awaitable[bool]:
        seen_as = SeenAs(scope="bench", fingerprint=str(next(counter)), window_ms=60_000)
        message = envelope_message(envelope, correlation_id="c")
        return queue.send_once(message, seen_as=seen_as, now_ms=now())

    return {"enqueue with dedup in its commit (SendsOnce)": await per_call_us(send_once, times=100)}


async def _rounds(
    args: argparse.Namespace, headers: list[tuple[bytes, bytes]], targets: dict[str, Any]
) -> tuple[dict[str, float], dict[str, float]]:
    """Interleaved rounds of each (app, path) target: the median requests/s of each, and its
    median CPU µs per request (the process's, every thread: what the machine's load moves
    least)."""
    rates: dict[str, list[float]] = {name: [] for name in targets}
    cpu_us: dict[str, list[float]] = {name: [] for name in targets}
    first = 10**6
    for _ in range(args.rounds):
        for name, (app, path) in targets.items():
            cpu_before = time.process_time()
            rates[name].append(await load(app, path, headers, args, first))
            cpu_us[name].append((time.process_time() - cpu_before) / args.requests * 1e6)
            first += args.requests * args.alerts
    return (
        {name: statistics.median(values) for name, values in rates.items()},
        {name: statistics.median(values) for name, values in cpu_us.items()},
    )


async def main(args: argparse.Namespace) -> None:
    from helios.apps.application.tenancy import TenancyService
    from helios.apps.composition import open_services
    from helios.apps.http.app import create_app
    from helios.apps.http.config import ApiConfig
    from helios.apps.observability import configure_logging
    from helios.apps.settings import Settings
    from helios.domain.values import SourceKind

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - JSON logs are produced, then dropped
    configure_logging(log_format="json", level="info")
    with tempfile.TemporaryDirectory(prefix="helios-bench-accept-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, store_url=f"sqlite:{data_dir / 'helios.db'}")
        config = ApiConfig(
            rate_per_integration=1e9,
            burst_per_integration=10**9,
            rate_per_tenant=1e9,
            burst_per_tenant=10**9,
        )
        async with open_services(settings) as services:
            tenancy = TenancyService(services.store)
            tenant = tenancy.create_tenant("bench").tenant_id
            key = tenancy.create_integration(
                tenant_id=tenant, kind=SourceKind.ALERTMANAGER
            ).routing_key
            app = create_app(services, config=config)
            app.register(bare)
            # The same routes through Litestar's router, without the hot path in front.
            routed = create_app(services, config=config, hot_ingest=False, admin=False)
            headers = [(b"content-type", b"application/json")]
            ingest = f"/v1/ingest/alertmanager/{key}"
            warm_up = argparse.Namespace(**{**vars(args), "requests": 50})
            await load(app, ingest, headers, warm_up, 0)
            await load(routed, ingest, headers, warm_up, 10**5)
            rates, cpu = await _rounds(
                args,
                headers,
                {"ingest": (app, ingest), "bare": (app, "/bare"), "routed": (routed, ingest)},
            )
            ingest_rps, bare_rps, routed_rps = rates["ingest"], rates["bare"], rates["routed"]
            report = sys.__stdout__
            assert report is not None
            print(
                f"in process, ASGI calls, {args.concurrency} at a time, {args.requests} requests "
                f"of {args.alerts} alerts, median of {args.rounds} interleaved rounds "
                f"(load average {os.getloadavg()[0]:.2f}):",
                file=report,
            )
            print(
                f"  ingest  {ingest_rps:8.0f} req/s  {ingest_rps * args.alerts:9.0f} alerts/s"
                f"  {1e6 / ingest_rps:8.0f} µs per request",
                file=report,
            )
            print(
                f"  bare    {bare_rps:8.0f} req/s  {1e6 / bare_rps:26.0f} µs per request",
                file=report,
            )
            print(
                f"  routed  {routed_rps:8.0f} req/s  {1e6 / routed_rps:26.0f} µs per request"
                "  (the same, through the router: no hot path)",
                file=report,
            )
            print(f"  ratio ingest/bare: {ingest_rps / bare_rps:.2f}", file=report)
            print(
                "  CPU µs per request (process, every thread): "
                + "  ".join(f"{name} {us:.0f}" for name, us in cpu.items())
                + f"  ratio hot/routed {cpu['ingest'] / cpu['routed']:.2f}",
                file=report,
            )
            print("parts, each alone, median µs per call:", file=report)
            context = app.dependencies["api"].dependency()
            for part, us in (await parts(services, context, key, args.alerts)).items():
                print(f"  {part:<42}{us:9.1f}", file=report)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await load(app, ingest, headers, args, 10**8)
                profiler.disable()
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats(args.sort).print_stats(45)
                print(text.getvalue(), file=report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="pstats order with --profile")
    asyncio.run(main(parser.parse_args()))
