"""Ingestion API throughput and latency next to a bare endpoint, same server, same run.

    .venv/bin/python bench/api.py [--seconds 5] [--connections 32]

One uvicorn process (one worker, loopback) serves ``create_app`` over real services (SQLite
event store and the embedded, durable SQLite queue in a temporary directory; in-process limiter
and idempotency store; rate limits raised out of the way; JSON logs written to /dev/null), plus
one extra route, ``POST /bare``, that only reads the body and decodes it as JSON — the floor
any Python endpoint pays. Each endpoint gets the same bodies: a PagerDuty trigger and a captured
Alertmanager webhook, each made unique per request (a counter in a field) so that content
deduplication never short-cuts the ingestion path.

Load comes from ``wrk`` (one thread, C, so the client takes little of the two cores) when it is
installed, with a Lua script that numbers each body; otherwise from concurrent httpx clients in
this process (much slower: the client is then the bottleneck and the ratio tends to 1 — the
output says which was used). Reported: requests/s, p50 and p99 latency, and the ratio of each
ingestion endpoint's requests/s to the bare endpoint's with the same body.

First, in this process and without HTTP, the cost of the edge's checks on the same bodies:
the shape check, then the normalizer the edge runs so that what it accepts is never
quarantined (``shapes.check_normalizes``), per request (``--edge-only`` prints just this).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from litestar import Request, Response, post

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "payloads"
PLACEHOLDER = "__N__"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- server side -------------------------------------------------------------------------------


@post("/bare", status_code=202)
async def bare(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The floor: read the body, decode the JSON, answer."""
    document = orjson.loads(await request.body())
    return Response(content=b'{"status":"ok","fields":%d}' % len(document))


def serve(port: int, data_dir: Path, keys_file: Path) -> None:
    """Run the API plus ``/bare`` on ``port`` until terminated."""
    import anyio
    import uvicorn

    from helios.apps.application.tenancy import TenancyService
    from helios.apps.composition import open_services
    from helios.apps.http.app import create_app
    from helios.apps.http.config import ApiConfig
    from helios.apps.observability import configure_logging
    from helios.apps.settings import Settings
    from helios.domain.values import SourceKind

    async def main() -> None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - JSON logs are produced, then dropped
        configure_logging(log_format="json", level="info")
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
            keys = {
                kind.value: tenancy.create_integration(tenant_id=tenant, kind=kind).routing_key
                for kind in (SourceKind.PAGERDUTY, SourceKind.ALERTMANAGER)
            }
            app = create_app(services, config=config)
            app.register(bare)
            keys_file.write_text(json.dumps(keys))
            server = uvicorn.Server(
                uvicorn.Config(
                    app, host="127.0.0.1", port=port, access_log=False, log_level="error"
                )
            )
            await server.serve()

    anyio.run(main)


# --- load side ---------------------------------------------------------------------------------


def bodies(keys: dict[str, str]) -> dict[str, str]:
    """Body templates with a placeholder the load generator numbers."""
    pagerduty = json.loads((FIXTURES / "examples" / "pagerduty_v2_trigger.json").read_text())
    pagerduty["routing_key"] = keys["pagerduty"]
    pagerduty["dedup_key"] = f"bench/{PLACEHOLDER}"
    webhook = json.loads(
        (FIXTURES / "alertmanager-0.25-captured" / "webhook_v4_firing.json").read_text()
    )
    webhook["groupKey"] = f"bench/{PLACEHOLDER}"
    return {"pagerduty": json.dumps(pagerduty), "alertmanager": json.dumps(webhook)}


def wrk_run(url: str, body: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / "numbered.lua"
    lua_body = body.replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        "counter = 0\n"
        f'local template = "{lua_body}"\n'
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  counter = counter + 1\n"
        f'  local body = template:gsub("{PLACEHOLDER}", tostring(counter))\n'
        "  return wrk.format(nil, nil, nil, body)\n"
        "end\n"
    )
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": _wrk_ms(output, "50%"),
        "p99_ms": _wrk_ms(output, "99%"),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def _wrk_ms(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
    assert match, output
    value, unit = float(match.group(1)), match.group(2)
    return {"us": value / 1000, "ms": value, "s": value * 1000}[unit]


def httpx_run(url: str, body: str, seconds: int, connections: int) -> dict[str, float]:
    import httpx

    async def main() -> dict[str, float]:
        latencies: list[float] = []
        errors = 0
        counter = 0
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits) as client:

            async def worker() -> None:
                nonlocal counter, errors
                while time.perf_counter() < deadline:
                    counter += 1
                    content = body.replace(PLACEHOLDER, str(counter))
                    started = time.perf_counter()
                    response = await client.post(
                        url, content=content, headers={"Content-Type": "application/json"}
                    )
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code >= 300

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - began
        cuts = statistics.quantiles(latencies, n=100)
        return {
            "rps": len(latencies) / elapsed,
            "p50_ms": cuts[49] * 1000,
            "p99_ms": cuts[98] * 1000,
            "errors": float(errors),
        }

    return asyncio.run(main())


def edge_check_cost(keys: dict[str, str]) -> None:
    """Print the median cost of the edge's body checks per request, in microseconds."""
    from helios.apps.http import shapes
    from helios.domain.values import Envelope, SourceKind

    templates = bodies(keys)
    batch = json.loads(templates["alertmanager"])
    batch["alerts"] = batch["alerts"] * (500 // len(batch["alerts"]))
    cases = [
        ("PagerDuty trigger", SourceKind.PAGERDUTY, templates["pagerduty"]),
        ("Alertmanager webhook", SourceKind.ALERTMANAGER, templates["alertmanager"]),
        (
            f"Alertmanager, {len(batch['alerts'])} alerts",
            SourceKind.ALERTMANAGER,
            json.dumps(batch),
        ),
    ]
    print("edge checks per request (in process, median of 7 runs):")
    for name, source, template in cases:
        body = template.replace(PLACEHOLDER, "1").encode()
        envelope = Envelope(
            ingest_id="edge-check",
            tenant="ten_bench",
            integration="int_bench",
            source=source,
            received_at=1_790_000_000_000,
            body=body,
        )

        def shape(source: SourceKind = source, body: bytes = body) -> None:
            document = shapes.decode_object(body)
            if source is SourceKind.PAGERDUTY:
                shapes.check_pagerduty(document)
            else:
                shapes.check_source(source, document)

        def normalized(envelope: Envelope = envelope) -> None:
            shapes.check_normalizes(envelope)

        costs = {}
        for label, check in (("decode + shape", shape), ("normalize", normalized)):
            repeat = max(1, 20_000 // max(1, len(body) // 200))
            runs = []
            for _ in range(7):
                began = time.perf_counter()
                for _ in range(repeat):
                    check()
                runs.append((time.perf_counter() - began) / repeat * 1e6)
            costs[label] = statistics.median(runs)
        print(
            f"  {name:28s} {len(body):7d} bytes   decode + shape {costs['decode + shape']:8.1f} µs"
            f"   normalize {costs['normalize']:8.1f} µs"
        )


def wait_for(path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are reported"
    )
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "DATA_DIR", "KEYS_FILE"))
    parser.add_argument(
        "--edge-only", action="store_true", help="only the in-process cost of the edge checks"
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), Path(args.serve[2]))
        return
    edge_check_cost({"pagerduty": "R" * 32})
    if args.edge_only:
        return
    with tempfile.TemporaryDirectory(prefix="helios-bench-api-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        keys_file = workdir / "keys.json"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), str(workdir / "data"), str(keys_file)]
        )
        try:
            wait_for(keys_file)
            time.sleep(0.5)
            keys = json.loads(keys_file.read_text())
            templates = bodies(keys)
            base = f"http://127.0.0.1:{port}"
            runs = [
                ("PagerDuty /v2/enqueue", f"{base}/v2/enqueue", "pagerduty"),
                ("bare, PagerDuty body", f"{base}/bare", "pagerduty"),
                ("Alertmanager /v1/ingest", f"{base}/v1/ingest/alertmanager/{keys['alertmanager']}",
                 "alertmanager"),
                ("bare, Alertmanager body", f"{base}/bare", "alertmanager"),
            ]  # fmt: skip
            client = "wrk (1 thread)" if shutil.which("wrk") else "httpx in-process clients"
            print(
                f"load: {client}, {args.connections} connections, {args.seconds} s per endpoint;"
                f" server: uvicorn, 1 worker, loopback"
            )
            samples: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in runs}
            for _ in range(args.rounds):
                # Interleaved, so a noisy neighbour on the shared cores hits every endpoint alike.
                for name, url, body in runs:
                    if shutil.which("wrk"):
                        sample = wrk_run(
                            url, templates[body], args.seconds, args.connections, workdir
                        )
                    else:
                        sample = httpx_run(url, templates[body], args.seconds, args.connections)
                    samples[name].append(sample)
            results = {
                name: {
                    field: statistics.median(s[field] for s in taken)
                    for field in ("rps", "p50_ms", "p99_ms", "errors")
                }
                for name, taken in samples.items()
            }
            print(f"medians of {args.rounds} interleaved rounds:")
            for name, result in results.items():
                print(
                    f"{name:26s} {result['rps']:9.0f} req/s   p50 {result['p50_ms']:6.2f} ms"
                    f"   p99 {result['p99_ms']:6.2f} ms   non-2xx {result['errors']:.0f}"
                )
            for ingest, bare in (
                ("PagerDuty /v2/enqueue", "bare, PagerDuty body"),
                ("Alertmanager /v1/ingest", "bare, Alertmanager body"),
            ):
                ratio = results[ingest]["rps"] / results[bare]["rps"]
                verdict = "meets" if ratio >= 0.5 else "MISSES"
                print(f"{ingest}: {ratio:.2f}x the bare endpoint ({verdict} the 0.5x target)")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
