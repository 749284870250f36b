"""The production topology on loopback, under faults, against a single-process reference.

Two API processes, two ingest workers, the followers (projections, notifier, fan-out) and the
scheduler, as separate processes over PostgreSQL (a private database), Redis (rate limits and
Idempotency-Keys, shared by both APIs) and a private SQS-compatible server, with the ingest
queue FIFO as in production (``HELIOS_SQS_FIFO``: one message group per tenant, so one
tenant's envelopes and ticks are decided by one worker at a time). The server is
``tests/fifo_sqs.py``'s moto, which honours message groups for receives already waiting.
Several tenants send alerts from three sources (Alertmanager, Grafana, PagerDuty) that report
the same problems. Mid-run one worker and one API process are killed with SIGKILL and started
again; clients retry a failed request on the other API with the same Idempotency-Key, as
senders do.

At the end:

* every request answered 2xx was recorded exactly once (its Idempotency-Key on one envelope);
* every alert's state (status, priority, score, occurrences, episode…) and every tenant's
  counts equal a single-process reference run that decides the same recorded inputs (each
  envelope as received, each tick) in the same order, in memory;
* ``helios replay verify`` re-decides the whole log without a divergence.

The comparison is made once the scheduler is stopped and the log has settled: inputs, state
and decisions are all read at one log position (a tick decided while they were read would
show as a decision of the deployed run alone). With a standard queue, two workers may decide a
tick and an envelope of one tenant at once, on state that is not version-checked (a stream
read but not appended to): FIFO routing rules that out.

Decisions depend on arrival order, so a tenant never has two envelopes in flight: each wave
carries one envelope per tenant and waits until all are decided. Tenants are independent,
so the waves still keep both workers and both APIs busy at once. moto is slow and
depth-sensitive: the queue never holds more than one wave (a dozen messages).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from production import Deployment, Process, base_env, private_database
from production import wait_healthy as wait_api
from threaded import free_port

from fifo_sqs import fifo_sqs_server
from helios.adapters.sqs import SqsSettings, create_queues, sqs_client
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.replay.log import Window
from helios.apps.application.replay.verify import Verifier, VerifyReport
from helios.apps.application.tenancy import TenancyService
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.library import open_store
from helios.domain import intake
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore

TENANTS = int(os.environ.get("HELIOS_TOPOLOGY_TENANTS", "6"))
WAVES = int(os.environ.get("HELIOS_TOPOLOGY_WAVES", "24"))
KILL_WORKER_AT = WAVES // 3
KILL_API_AT = 2 * WAVES // 3
WAVE_DECIDED_WITHIN_S = 40
"""A killed worker's messages come back after the visibility timeout; slack for a busy box."""
VISIBILITY_S = 15
"""Long enough that a batch outlives it on no worker, even on a busy 2-core box: a message
whose visibility lapses mid-batch frees its tenant's message group, and the other worker could
then decide that tenant at the same time (FIFO's one-at-a-time holds only within it)."""
START = 1_700_000_000_000
HELIOS = [sys.executable, "-m", "helios.apps.cli"]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.sqs,
    pytest.mark.slow,
    pytest.mark.timeout(400),
]


# --- set-up -----------------------------------------------------------------------------------


class Tenant:
    def __init__(self, tenant_id: str, keys: dict[SourceKind, str], seed: int) -> None:
        self.tenant_id = tenant_id
        self.keys = keys
        traffic = TrafficGenerator(
            tenant=tenant_id,
            start=START,
            seed=seed,
            problems=10,
            pagerduty_routing_key=keys[SourceKind.PAGERDUTY],
        )
        self.envelopes: list[Envelope] = list(traffic.envelopes(WAVES))[:WAVES]


def _provision(store_url: str) -> list[Tenant]:
    migrate(store_url)
    store = open_event_store(store_url)
    try:
        tenancy = TenancyService(store)
        tenants = []
        for number in range(TENANTS):
            tenant = tenancy.create_tenant(f"tenant-{number}").tenant_id
            keys = {
                kind: tenancy.create_integration(tenant_id=tenant, kind=kind).routing_key
                for kind in (SourceKind.ALERTMANAGER, SourceKind.GRAFANA, SourceKind.PAGERDUTY)
            }
            tenants.append(Tenant(tenant, keys, seed=100 + number))
        return tenants
    finally:
        store.close()


async def _create_queues(endpoint: str, prefix: str) -> None:
    async with sqs_client(SqsSettings(endpoint_url=endpoint, max_attempts=2)) as client:
        for name in ("ingest", "analytics"):
            await create_queues(
                client,
                prefix=prefix,
                name=name,
                visibility_timeout_s=VISIBILITY_S,
                fifo=name == "ingest",
            )


@pytest.fixture
def topology(tmp_path: Path, redis_url: str) -> Iterator[tuple]:
    server = os.environ.get("HELIOS_TEST_DATABASE_URL", "")
    if not server:
        pytest.fail("HELIOS_TEST_DATABASE_URL not set")
    prefix = f"topo{uuid.uuid4().hex[:10]}-"
    with private_database(server) as store_url, fifo_sqs_server() as sqs_endpoint:
        env = base_env(
            store_url=store_url,
            redis_url=redis_url,
            sqs_endpoint=sqs_endpoint,
            prefix=prefix,
        )
        for name, value in env.items():
            if name.startswith("AWS_"):
                os.environ.setdefault(name, value)
        asyncio.run(_create_queues(sqs_endpoint, prefix))
        tenants = _provision(store_url)
        deployment = Deployment(
            helios=HELIOS,
            env={
                **env,
                "HELIOS_WORKER_WAIT_S": "1",
                "HELIOS_WORKER_VISIBILITY_S": str(VISIBILITY_S),
                "HELIOS_WORKER_BATCH": "50",
                "HELIOS_FOLLOWER_POLL_S": "0.2",
                "HELIOS_TICK_INTERVAL_S": os.environ.get("HELIOS_TOPOLOGY_TICK_S", "2"),
                "HELIOS_SQS_FIFO": "true",
            },
            data_root=tmp_path,
        )
        try:
            yield deployment, tenants, store_url
        finally:
            deployment.stop_all()


def _start_api(deployment: Deployment, name: str, port: int) -> Process:
    return deployment.start(name, "api", extra={"HELIOS_HTTP_PORT": str(port)})


def _start_worker(deployment: Deployment, name: str) -> Process:
    return deployment.start(name, "worker", "ingest", ready=b"worker.started", wait=False)


# --- traffic ----------------------------------------------------------------------------------


class Sender:
    """Posts one envelope's body as its source would; retries on the other API with the same
    Idempotency-Key until it is answered 2xx."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.accepted: dict[str, str] = {}
        """Idempotency-Key → tenant, for every request answered 2xx."""
        self.retries = 0

    def send(self, tenant: Tenant, envelope: Envelope, key: str, first: int) -> None:
        if envelope.source is SourceKind.PAGERDUTY:
            path, auth = "/v2/enqueue", {}
        else:
            path = f"/v1/ingest/{envelope.source.value}"
            auth = {"Authorization": f"Bearer {tenant.keys[envelope.source]}"}
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": key}
        deadline = time.monotonic() + 60
        attempt = 0
        while time.monotonic() < deadline:
            url = self.urls[(first + attempt) % len(self.urls)]
            attempt += 1
            try:
                response = httpx.post(
                    url + path, content=envelope.body, headers=headers, timeout=10
                )
            except httpx.TransportError:
                self.retries += 1
                time.sleep(0.1)
                continue
            if response.status_code in (202, 200):
                self.accepted[key] = tenant.tenant_id
                return
            assert response.status_code in (409, 429, 503), (response.status_code, response.text)
            self.retries += 1
            time.sleep(0.2)
        raise AssertionError(f"{key} was never accepted")


class LogReader:
    """Reads the event log as it grows: counts envelopes recorded."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.after = 0
        self.envelopes = 0

    def catch_up(self) -> int:
        while True:
            page = self.store.read_log(self.after, 1000)
            self.envelopes += sum(isinstance(e.event, intake.EnvelopeReceived) for e in page)
            if page:
                self.after = page[-1].position
            if len(page) < 1000:
                return self.envelopes


def _wait_decided(reader: LogReader, expected: int, deployment: Deployment) -> None:
    deadline = time.monotonic() + WAVE_DECIDED_WITHIN_S
    while reader.catch_up() < expected:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{reader.envelopes} of {expected} envelopes recorded after "
                f"{WAVE_DECIDED_WITHIN_S} s\n{deployment.tails()}"
            )
        time.sleep(0.05)


def _wait_log_settled(store: EventStore, *, quiet_s: float = 3.0) -> None:
    """Wait until nothing has been appended for ``quiet_s`` (ticks in flight decided)."""
    deadline = time.monotonic() + WAVE_DECIDED_WITHIN_S
    last, since = store.max_position(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError(f"the log still grows {WAVE_DECIDED_WITHIN_S} s after the end")
        time.sleep(0.2)
        position = store.max_position()
        if position != last:
            last, since = position, time.monotonic()


# --- checks -----------------------------------------------------------------------------------


class SerialOrderDivergence(AssertionError):
    """The deployed run decided differently from the serial run of the same inputs."""


def _recorded_inputs(store: EventStore) -> list[Any]:
    """Every envelope and tick, in log order (the order they were decided in)."""
    inputs: list[Any] = []
    after = 0
    while True:
        page = store.read_log(after, 1000)
        inputs.extend(
            e.event
            for e in page
            if isinstance(e.event, intake.EnvelopeReceived | intake.TickReceived)
        )
        if len(page) < 1000:
            return inputs
        after = page[-1].position


def _state(helios: Any, tenants: list[Tenant]) -> tuple[dict, dict]:
    """Every alert's state (incident ids aside), and every tenant's counts."""
    alerts: dict[tuple[str, str], tuple] = {}
    counts: dict[str, tuple] = {}
    for tenant in tenants:
        found = helios.alerts(tenant.tenant_id)
        for state in found:
            episode = state.fold.episode
            alerts[(tenant.tenant_id, state.dedup_key)] = (
                episode.status.value if episode else None,
                state.priority,
                state.score,
                episode.occurrences if episode else 0,
                state.fold,
                state.total_signals,
                state.flapping,
                state.notifications,
                state.group_key,
            )
        statuses = Counter(a[0] for key, a in alerts.items() if key[0] == tenant.tenant_id)
        counts[tenant.tenant_id] = (
            len(found),
            sorted(statuses.items(), key=str),
            len(helios.incidents(tenant.tenant_id)),
        )
    return alerts, counts


def _incident_decisions(store: EventStore) -> Counter[str]:
    """The incident events of the log, incident ids left out (they may differ)."""
    found: Counter[str] = Counter()
    after = 0
    while True:
        page = store.read_log(after, 1000)
        for entry in page:
            if entry.name.startswith("helios.incident."):
                fields = {
                    k: v
                    for k, v in msgspec.structs.asdict(entry.event).items()
                    if k != "incident_id"
                }
                found[f"{entry.name} {sorted(fields.items(), key=str)}"] += 1
        if len(page) < 1000:
            return found
        after = page[-1].position


def _verify(store: EventStore) -> VerifyReport:
    return Verifier(store, window=Window(), max_divergences=5).run()


def _reference(inputs: list[Any], tenants: list[Tenant]) -> tuple[dict, dict, Counter, Any]:
    with open_store("memory://") as helios:
        for event in inputs:
            if isinstance(event, intake.EnvelopeReceived):
                helios.ingest([event.envelope])
            else:
                helios.tick(event.tenant, event.at, event.dedup_keys)
        alerts, counts = _state(helios, tenants)
        return alerts, counts, _incident_decisions(helios.store), _verify(helios.store)


def _check_against_reference(
    store: EventStore, store_url: str, tenants: list[Tenant], sender: Sender
) -> None:
    """Exactly once per 2xx request; alerts, counts and incident decisions as the reference."""
    assert len(sender.accepted) == TENANTS * WAVES
    inputs = _recorded_inputs(store)
    keys = Counter(
        e.envelope.header("Idempotency-Key")
        for e in inputs
        if isinstance(e, intake.EnvelopeReceived)
    )
    assert set(keys) == set(sender.accepted)
    assert max(keys.values()) == 1

    with open_store(store_url) as deployed:
        alerts, counts = _state(deployed, tenants)
    reference = _reference(inputs, tenants)
    assert reference[3].ok  # the reference run is itself consistent
    incidents = _incident_decisions(store)
    differences = []
    if counts != reference[1]:
        differences.append(f"tenant counts: {counts} != {reference[1]}")
    if alerts != reference[0]:
        keys = {
            k for k in alerts.keys() | reference[0].keys() if alerts.get(k) != reference[0].get(k)
        }
        differences.append(f"alerts differing: {sorted(keys)[:5]} ({len(keys)})")
    if incidents != reference[2]:
        differences.append(
            f"incident decisions only deployed: {incidents - reference[2]}\n"
            f"only in the serial run: {reference[2] - incidents}"
        )
    if differences:
        raise SerialOrderDivergence("\n".join(differences))
    assert sum(c[0] for c in counts.values()) > TENANTS  # alerts were decided at all


def test_two_apis_two_workers_followers_and_scheduler_survive_kills_and_match_a_reference(
    topology: tuple,
) -> None:
    deployment, tenants, store_url = topology
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    apis = [_start_api(deployment, f"api-{n}", port) for n, port in enumerate(ports)]
    workers = [_start_worker(deployment, f"worker-{n}") for n in range(2)]
    # The followers create the read models the scheduler reads: it starts once they are up.
    deployment.start("followers", "worker", "followers", ready=b"followers.started")
    scheduler = deployment.start("scheduler", "scheduler")
    for api, url in zip(apis, urls, strict=True):
        wait_api(url, api)
    for worker in workers:
        worker.wait_for(b"worker.started")

    sender = Sender(urls)
    store = open_event_store(store_url)
    reader = LogReader(store)
    sent = 0
    try:
        with ThreadPoolExecutor(max_workers=TENANTS) as pool:
            for wave in range(WAVES):
                if wave == KILL_API_AT:
                    apis[0].kill()
                    apis[0] = _start_api(deployment, "api-0-restarted", ports[0])
                futures = [
                    pool.submit(sender.send, t, t.envelopes[wave], f"{t.tenant_id}-{wave}", n)
                    for n, t in enumerate(tenants)
                ]
                if wave == KILL_WORKER_AT:
                    time.sleep(0.3)  # some of the wave received by the worker, not yet decided
                    workers[0].kill()
                    workers[0] = _start_worker(deployment, "worker-0-restarted")
                    workers[0].wait_for(b"worker.started")
                for future in futures:
                    future.result()
                sent += len(futures)
                _wait_decided(reader, sent, deployment)
                if wave == KILL_API_AT:
                    wait_api(urls[0], apis[0])

        assert scheduler.popen.poll() is None, scheduler.tail()
        # The scheduler keeps sending ticks: stop it and let the last ones be decided, so that
        # the inputs, the deployed state and its decisions are all read at one log position
        # (read while ticks still came, a late tick's escalation was in the deployed decisions
        # but not in the inputs given to the reference).
        scheduler.stop()
        _wait_log_settled(store)
        _check_against_reference(store, store_url, tenants, sender)
    finally:
        store.close()

    verify = subprocess.run(
        [*HELIOS, "replay", "verify"],
        env={**deployment.env, "HELIOS_DATA_DIR": str(deployment.data_root / "verify")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if verify.returncode != 0:
        raise SerialOrderDivergence(verify.stdout[-3000:] + verify.stderr[-3000:])
