"""Query API latency at 100k alerts, next to the raw SQL of the same query in the same run.

    .venv/bin/python bench/query.py [--alerts 100000] [--requests 300] [--detail-alerts 500]

Read models in SQLite (the embedded default) in a temporary directory. The ``alerts`` table (and
its label index) is filled through the alerts view with ``--alerts`` synthetic rows for one tenant
(plus as many for a second tenant, so tenant scoping is exercised). Alert *details* also read the
alert's stream from the event store, so ``--detail-alerts`` real alerts are ingested through the
library (SQLite store) and projected first; detail latency is measured on those, with the 100k
synthetic rows beside them in the table. Requests go through the real ASGI app (authentication,
guard, ETag, serialisation) in process, without a socket: the numbers are the server's cost, not
the network's. The queries are timed in turns (one of each per round), so a busy machine weighs on
all alike. Reported: p50 and p99 in milliseconds per query, and the view's own query (the SQL and
its rows, without HTTP) p50/p99; then, for each filter, its API p99 over the first page's (the
target: at most 5, whatever the filter's selectivity). The free-text ``q`` filter is a scan by
design and is not among them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import attrs
import httpx
import orjson

from helios.apps.application.access import AccessService
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_read_models, open_services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.library import Helios
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.views import alerts
from helios.apps.views.projector import Projector
from helios.domain.access import Role

SERVICES = ["api", "db", "checkout", "search", "billing", "auth", "storage", "queue"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def fill(db_url: str, tenant: str, count: int, start_ms: int) -> None:
    """``count`` synthetic alerts for ``tenant`` and as many for another, written like the
    projector writes them (rows and their labels)."""
    rng = random.Random(3)
    db = open_read_models(db_url)
    rows = []
    for other in (tenant, "ten_other"):
        for n in range(count):
            service = rng.choice(SERVICES)
            status = rng.choice(["triggered", "acknowledged", "resolved", "resolved"])
            at = start_ms - rng.randrange(30 * 24 * 3600 * 1000)
            labels = {"alertname": f"Alert{n % 500}", "service": service, "instance": f"i-{n}"}
            rows.append(
                alerts.AlertRow(
                    tenant=other, dedup_key=f"synthetic-{n}",
                    stream_id=f"00000000-0000-0000-0000-{n:012d}{other[-1]}"[:36],
                    status=status, priority=rng.choice(["P1", "P2", "P3", "P4", "P5"]),
                    score=rng.randrange(100), factors="[]", severity="warning",
                    summary=f"{labels['alertname']} on {service}", service=service,
                    sources='["alertmanager"]', labels=orjson.dumps(labels).decode(),
                    occurrences=1, episode=1, duplicates=0, flapping=0, silenced=0,
                    group_key=f"service={service}", first_seen_at=at, last_signal_at=at,
                    last_change_at=at, position=n, links="[]", details="{}",
                )
            )  # fmt: skip
    for start in range(0, len(rows), 10_000):
        with db.transaction() as cursor:
            alerts.upsert(cursor, rows[start : start + 10_000])
    db.close()


def ingest_real(services: object, tenant: str, count: int, start_ms: int) -> None:
    library = Helios(services.store)  # type: ignore[attr-defined]
    envelopes = []
    for n in range(count):
        body = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": f"Real{n}", "service": SERVICES[n % 8]},
                    "annotations": {"summary": f"real alert {n}"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"real{n:012d}",
                }
            ],
        }
        envelopes.append(
            library.envelope(
                tenant=tenant, source="alertmanager", body=json.dumps(body).encode(),
                received_at=start_ms + n,
            )
        )  # fmt: skip
    for i in range(0, len(envelopes), 250):
        library.ingest(envelopes[i : i + 250])


async def measure(
    client: httpx.AsyncClient, paths: list[str], headers: dict[str, str], n: int
) -> list[list[float]]:
    """``n`` timings of each path, taken in turns (one of each per round), so that whatever
    else the machine does weighs on every query alike and the ratios stay fair."""
    samples: list[list[float]] = [[] for _ in paths]
    for _ in range(n):
        for path, timings in zip(paths, samples, strict=True):
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return samples


def raw(db_url: str, filters: list[alerts.AlertFilter], n: int) -> list[list[float]]:
    """The view's own query for each filter, in turns like ``measure``."""
    db = open_read_models(db_url)
    samples: list[list[float]] = [[] for _ in filters]
    for _ in range(n):
        for where, timings in zip(filters, samples, strict=True):
            started = time.perf_counter()
            alerts.page(db, where, limit=50)
            timings.append(time.perf_counter() - started)
    db.close()
    return samples


def filter_cases(tenant: str) -> list[tuple[str, str, str, alerts.AlertFilter]]:
    """(ratio name, printed name, API path, the view's filter) of each measured query."""
    base = alerts.AlertFilter(tenant=tenant)
    return [
        ("first page", "GET /v1/alerts (first page of 50)", "/v1/alerts", base),
        ("status filter", "?status=triggered", "/v1/alerts?status=triggered",
         attrs.evolve(base, statuses=("triggered",))),
        ("status filter (rare)", "?status=acknowledged&priority=P1",
         "/v1/alerts?status=acknowledged&priority=P1",
         attrs.evolve(base, statuses=("acknowledged",), priorities=("P1",))),
        ("service filter", "?service=db", "/v1/alerts?service=db",
         attrs.evolve(base, service="db")),
        ("status+service filter", "?status=triggered&service=db",
         "/v1/alerts?status=triggered&service=db",
         attrs.evolve(base, statuses=("triggered",), service="db")),
        ("label filter", "?label=instance=i-4242 (1 alert)",
         "/v1/alerts?label=instance%3Di-4242",
         attrs.evolve(base, labels=(("instance", "i-4242"),))),
        ("label filter (200 alerts)", "?label=alertname=Alert7",
         "/v1/alerts?label=alertname%3DAlert7",
         attrs.evolve(base, labels=(("alertname", "Alert7"),))),
        ("label filter (1 in 8)", "?label=service=db", "/v1/alerts?label=service%3Ddb",
         attrs.evolve(base, labels=(("service", "db"),))),
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:  # noqa: PLR0915 (a script: one step after another)
    # A log line per request would cost more than some of the queries measured.
    configure_logging(log_format="json", level="error")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    directory = Path(tempfile.mkdtemp(prefix="helios-bench-query-"))
    settings = Settings(data_dir=directory, log_format="json")
    start_ms = 1_790_000_000_000
    async with open_services(settings) as services:
        tenant = TenancyService(services.store).create_tenant("bench").tenant_id
        access = AccessService(services.store)
        user = access.create_user(tenant_id=tenant, email="bench@x.io", role=Role.VIEWER)
        token = access.issue_token(tenant_id=tenant, user_id=user.user_id, name="bench").token
        t0 = time.perf_counter()
        ingest_real(services, tenant, args.detail_alerts, start_ms)
        db = open_read_models(settings.effective_read_models_url)
        projector = Projector(services.store, db)
        after = 0
        while page := services.store.read_log(after, 1000):
            projector.apply(page, after=after)
            after = page[-1].position
        db.close()
        fill(settings.effective_read_models_url, tenant, args.alerts, start_ms)
        print(f"setup: {args.detail_alerts} real + 2x{args.alerts} synthetic alerts "
              f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
        app = create_app(services, config=ApiConfig())
        headers = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            real = (await client.get("/v1/alerts?q=real%20alert&limit=50", headers=headers)).json()
            detail_ids = [a["id"] for a in real["items"]]
            await measure(client, ["/v1/alerts"], headers, 20)  # warm-up (indexes, caches)
            n = args.requests
            cases = filter_cases(tenant)
            print(f"{'query':50} {'API p50':>9} {'p99':>8} {'view p50':>9} {'p99':>8}  (ms)")
            p99s: dict[str, float] = {}
            api = await measure(client, [c[2] for c in cases], headers, n)
            view = raw(settings.effective_read_models_url, [c[3] for c in cases], n)
            for (key, name, _, _), api_samples, view_samples in zip(cases, api, view, strict=True):
                api50, api99 = percentiles(api_samples)
                sql50, sql99 = percentiles(view_samples)
                p99s[key] = api99
                print(f"{name:50} {api50:9.2f} {api99:8.2f} {sql50:9.2f} {sql99:8.2f}")
            samples = []
            for i in range(n):
                started = time.perf_counter()
                response = await client.get(
                    f"/v1/alerts/{detail_ids[i % len(detail_ids)]}", headers=headers
                )
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200
            d50, d99 = percentiles(samples)
            db = open_read_models(settings.effective_read_models_url)
            lookups = []
            for _ in range(n):
                started = time.perf_counter()
                alerts.by_id(db, tenant=tenant, alert_id=detail_ids[0])
                lookups.append(time.perf_counter() - started)
            db.close()
            s50, s99 = percentiles(lookups)
            print(f"{'GET /v1/alerts/{id} (row + stream from the store)':50} "
                  f"{d50:9.2f} {d99:8.2f} {s50:9.2f} {s99:8.2f}")  # fmt: skip
            first = p99s.pop("first page")
            for key, p99 in p99s.items():
                print(f"ratio {key} p99 / first page p99: {p99 / first:.1f} (target <= 5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--detail-alerts", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
