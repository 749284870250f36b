"""Query API latency at 100k alerts, next to the raw SQL of the same query in the same run.

    .venv/bin/python bench/query.py [--alerts 100000] [--requests 300] [--detail-alerts 500]

Read models in SQLite (the embedded default) in a temporary directory. The ``alerts`` table is
filled directly with ``--alerts`` synthetic rows for one tenant (plus as many for a second
tenant, so tenant scoping is exercised). Alert *details* also read the alert's stream from the
event store, so ``--detail-alerts`` real alerts are ingested through the library (SQLite store)
and projected first; detail latency is measured on those, with the 100k synthetic rows beside
them in the table. Requests go through the real ASGI app (authentication, guard, ETag,
serialisation) in process, without a socket: the numbers are the server's cost, not the
network's. Reported: p50 and p99 in milliseconds per query, and the raw SQL's p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from helios.apps.application.access import AccessService
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.query.alerts import ALERT_COLUMNS
from helios.apps.library import Helios
from helios.apps.settings import Settings
from helios.apps.views.database import open_read_models
from helios.apps.views.projector import Projector
from helios.domain.access import Role

SERVICES = ["api", "db", "checkout", "search", "billing", "auth", "storage", "queue"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def fill(db_url: str, tenant: str, count: int, start_ms: int) -> None:
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
                (other, f"synthetic-{n}", f"00000000-0000-0000-0000-{n:012d}{other[-1]}"[:36],
                 status, rng.choice(["P1", "P2", "P3", "P4", "P5"]), rng.randrange(100), "[]",
                 "warning", f"{labels['alertname']} on {service}", service, '["alertmanager"]',
                 orjson.dumps(labels).decode(), 1, 1, 0, 0, 0, f"service={service}", None, at, at,
                 at, n)
            )  # fmt: skip
    with db.transaction() as cursor:
        cursor.executemany(
            "INSERT INTO alerts (tenant, dedup_key, stream_id, status, priority, score, factors, "
            "severity, summary, service, sources, labels, occurrences, episode, duplicates, "
            "flapping, silenced, group_key, incident_id, first_seen_at, last_signal_at, "
            "last_change_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
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
    client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int
) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


def raw(db_url: str, sql: str, params: list[object], n: int) -> list[float]:
    db = open_read_models(db_url)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        db.query(sql, params)
        samples.append(time.perf_counter() - started)
    db.close()
    return samples


async def main(args: argparse.Namespace) -> None:
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
            await measure(client, "/v1/alerts", headers, 20)  # warm-up (indexes, caches)
            n = args.requests
            where = "tenant = ? AND status <> 'none'"
            order = "ORDER BY last_signal_at DESC, dedup_key DESC LIMIT 51"
            cases = [
                ("GET /v1/alerts (first page of 50)", "/v1/alerts",
                 f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {where} {order}", [tenant]),
                ("GET /v1/alerts?status=triggered&service=db",
                 "/v1/alerts?status=triggered&service=db",
                 f"SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant = ? AND status IN (?) "
                 f"AND service = ? {order}", [tenant, "triggered", "db"]),
                ("GET /v1/alerts?label=instance=i-4242", "/v1/alerts?label=instance%3Di-4242",
                 f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {where} AND labels LIKE ? "
                 f"ESCAPE '\\' {order}", [tenant, '%"instance":"i-4242"%']),
            ]  # fmt: skip
            print(f"{'query':50} {'API p50':>9} {'p99':>8} {'SQL p50':>9} {'p99':>8}  (ms)")
            for name, path, sql, params in cases:
                api50, api99 = percentiles(await measure(client, path, headers, n))
                sql50, sql99 = percentiles(raw(settings.effective_read_models_url, sql, params, n))
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
            sql = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE stream_id = ? AND tenant = ?"
            s50, s99 = percentiles(
                raw(settings.effective_read_models_url, sql, [detail_ids[0], tenant], n)
            )
            print(f"{'GET /v1/alerts/{id} (row + stream from the store)':50} "
                  f"{d50:9.2f} {d99:8.2f} {s50:9.2f} {s99:8.2f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--detail-alerts", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
