"""uvicorn and granian serving the same ingestion API, in one process, loaded in turn.

    .venv/bin/python bench/servers.py [--seconds 5] [--connections 32] [--rounds 3]

One process opens the embedded services (SQLite store, durable SQLite queue, in a temporary
directory) and builds the API once (``create_app``), then serves that one app on two ports:
uvicorn configured as ``helios api`` and ``helios up`` configure it (``server_config``:
h11 with problem documents for unparseable requests), and granian's embedded ASGI server.
``wrk`` (one thread) posts Alertmanager webhooks of 10 new distinct alerts each to one port
at a time, the servers alternating round by round, so both see the same app, the same files
and the same neighbours on the shared cores. Printed: requests/s, alerts/s, p50 and p99 of
each (medians of the rounds), and the ratio granian/uvicorn, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLACEHOLDER = "__N__"
ALERTS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def template() -> str:
    """A webhook of ``ALERTS`` alerts, each distinct once wrk numbers ``__N__``."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "Bench", "service": "svc", "bench_seq": f"{PLACEHOLDER}-{k}"},
            "annotations": {"summary": "bench"},
            "startsAt": "2030-01-01T00:00:00Z",
            "fingerprint": f"{PLACEHOLDER}-{k}",
        }
        for k in range(ALERTS)
    ]
    body = {"version": "4", "status": "firing", "receiver": "helios", "groupKey": PLACEHOLDER}
    return json.dumps({**body, "alerts": alerts})


def wrk(url: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / "numbered.lua"
    lua_body = template().replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        "counter = 0\n"
        f'local template = "{lua_body}"\n'
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  counter = counter + 1\n"
        f'  local body = template:gsub("{PLACEHOLDER}", wrk.thread:get("id") .. "-" .. counter)\n'
        "  return wrk.format(nil, nil, nil, body)\n"
        "end\n"
        "setup = function(thread) thread:set('id', tostring(math.random(1, 1e9))) end\n"
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(out.split("Requests/sec:")[1].split()[0])
    non_2xx = int(out.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in out else 0

    def ms(label: str) -> float:
        value = out.split(label)[1].split()[0]
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
            if value.endswith(unit):
                return float(value[: -len(unit)]) * factor
        raise ValueError(value)

    return {"rps": rps, "p50_ms": ms(" 50%"), "p99_ms": ms(" 99%"), "non_2xx": non_2xx}


async def serve_both(workdir: Path, ports: dict[str, int], ready: Path) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server as Granian

    from helios.apps.application.tenancy import TenancyService
    from helios.apps.composition import open_services
    from helios.apps.embedded.runner import _Server as Uvicorn
    from helios.apps.http.app import create_app
    from helios.apps.http.config import ApiConfig
    from helios.apps.http.server import server_config
    from helios.apps.observability import configure_logging
    from helios.apps.settings import Settings
    from helios.domain.values import SourceKind

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - JSON logs are produced, then dropped
    configure_logging(log_format="json", level="info")
    settings = Settings(data_dir=workdir / "data", store_url=f"sqlite:{workdir / 'helios.db'}")
    config = ApiConfig(
        rate_per_integration=1e9,
        burst_per_integration=10**9,
        rate_per_tenant=1e9,
        burst_per_tenant=10**9,
    )
    async with open_services(settings) as services:
        tenancy = TenancyService(services.store)
        tenant = tenancy.create_tenant("bench").tenant_id
        key = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
        app = create_app(services, config=config)
        uvicorn = Uvicorn(
            server_config(
                app, host="127.0.0.1", port=ports["uvicorn"], api=config, log_level="error"
            )
        )
        granian = Granian(
            app,
            address="127.0.0.1",
            port=ports["granian"],
            interface=Interfaces.ASGI,
            log_enabled=False,
        )
        tasks = [asyncio.create_task(uvicorn.serve()), asyncio.create_task(granian.serve())]
        await asyncio.sleep(1.0)
        ready.write_text(key.routing_key)
        await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=4, metavar=("DIR", "UVICORN", "GRANIAN", "READY"))
    args = parser.parse_args()
    if args.serve:
        workdir, uvicorn, granian, ready = args.serve
        ports = {"uvicorn": int(uvicorn), "granian": int(granian)}
        asyncio.run(serve_both(Path(workdir), ports, Path(ready)))
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="helios-bench-servers-") as tmp:
        workdir = Path(tmp)
        ports = {"uvicorn": free_port(), "granian": free_port()}
        ready = workdir / "ready"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp, str(ports["uvicorn"]),
             str(ports["granian"]), str(ready)]
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the servers did not start")
                time.sleep(0.1)
            key = ready.read_text()
            loads = [os.getloadavg()[0]]
            samples: dict[str, list[dict[str, float]]] = {"uvicorn": [], "granian": []}
            for number in range(args.rounds):
                order = ["uvicorn", "granian"] if number % 2 == 0 else ["granian", "uvicorn"]
                for name in order:
                    url = f"http://127.0.0.1:{ports[name]}/v1/ingest/alertmanager/{key}"
                    samples[name].append(wrk(url, args.seconds, args.connections, workdir))
                loads.append(os.getloadavg()[0])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"POST /v1/ingest/alertmanager, {ALERTS} new alerts per request, wrk 1 thread, "
        f"{args.connections} connections, {args.seconds} s, medians of {args.rounds} "
        f"interleaved rounds; load average {min(loads):.1f} to {max(loads):.1f} on "
        f"{os.cpu_count()} cores"
    )
    medians = {
        name: {field: statistics.median(s[field] for s in taken) for field in taken[0]}
        for name, taken in samples.items()
    }
    for name, m in medians.items():
        print(
            f"  {name:8s} {m['rps']:7.0f} req/s {m['rps'] * ALERTS:8.0f} alerts/s"
            f"   p50 {m['p50_ms']:7.1f} ms   p99 {m['p99_ms']:7.1f} ms   non-2xx {m['non_2xx']:.0f}"
        )
    ratio = medians["granian"]["rps"] / medians["uvicorn"]["rps"]
    print(f"ratio granian/uvicorn (req/s): {ratio:.2f}")


if __name__ == "__main__":
    main()
