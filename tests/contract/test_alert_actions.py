"""Acknowledge/resolve as a use case (``AlertActions``), over real read models (SQLite and
PostgreSQL) and the embedded queue: the action leaves as an envelope the ``user`` normalizer
turns into the human signal, and a foreign or missing alert, a long note, a stale version, or
a retry under the same ``Idempotency-Key`` sends nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.memory.limits import InMemoryIdempotencyStore
from helios.apps.application.actions import AlertActions, AlertChanged, InvalidAction
from helios.apps.application.admission import IdempotencyKeyReused
from helios.apps.application.alert_history import AlertNotFound
from helios.apps.application.envelopes import ENVELOPE_KIND, decode_envelope
from helios.apps.application.ingest import Ingestor
from helios.apps.views import alerts
from helios.apps.views.projector import Projector
from helios.domain.normalize import Normalized
from helios.domain.normalize.dispatch import normalize
from helios.domain.ruleset import DEFAULT_RULESET
from helios.domain.values import Action, Envelope, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _firing() -> Envelope:
    alert = {
        "status": "firing",
        "labels": {"alertname": "DiskFull"},
        "annotations": {"summary": "disk full"},
        "startsAt": "2026-03-14T09:20:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "fp-1",
    }
    return Envelope(
        ingest_id="in-1",
        tenant="acme",
        integration="am-1",
        source=SourceKind.ALERTMANAGER,
        received_at=T0,
        body=json.dumps({"version": "4", "alerts": [alert]}).encode(),
    )


def _alert_id(store: EventStore, db: ReadModels) -> str:
    Ingestor(store).ingest([_firing()])
    Projector(store, db).apply(store.read_log(0, 1_000), after=0)
    [row], _ = alerts.page(db, alerts.AlertFilter(tenant="acme"), limit=10)
    return row.stream_id


@pytest.mark.anyio
async def test_an_acknowledgement_is_queued_as_the_user_signal_it_stands_for(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """The envelope names the alert's dedup key, the user and the note, at the clock's time."""
    alert_id = _alert_id(store, db)
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        actions = AlertActions(
            queue=queue,
            read_models=lambda: db,
            clock=lambda: T0 + 5_000,
            idempotency=InMemoryIdempotencyStore(),
        )
        accepted = await actions.take(
            tenant="acme", user_id="u-1", alert_id=alert_id, action="acknowledge", note="on it"
        )
        [message] = await queue.receive(max_messages=10, wait_seconds=0)
    assert (accepted.alert_id, accepted.action) == (alert_id, "acknowledge")
    assert message.attributes.kind == ENVELOPE_KIND
    envelope = decode_envelope(message.body)
    assert (envelope.ingest_id, envelope.source, envelope.received_at) == (
        accepted.action_id,
        SourceKind.USER,
        T0 + 5_000,
    )
    result = normalize(envelope, DEFAULT_RULESET)
    assert isinstance(result, Normalized)
    [signal] = result.signals
    assert (signal.dedup_key, signal.action, signal.source) == (
        "fp-1",
        Action.ACKNOWLEDGE,
        "user:u-1",
    )
    assert signal.summary == "acknowledged by user:u-1: on it"


@pytest.mark.anyio
async def test_another_tenants_alert_or_a_long_note_sends_nothing(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """Refused before anything is queued: the queue stays empty."""
    alert_id = _alert_id(store, db)
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        actions = AlertActions(
            queue=queue,
            read_models=lambda: db,
            clock=lambda: T0,
            idempotency=InMemoryIdempotencyStore(),
        )
        with pytest.raises(AlertNotFound):
            await actions.take(tenant="other", user_id="u-1", alert_id=alert_id, action="resolve")
        with pytest.raises(InvalidAction) as refused:
            await actions.take(
                tenant="acme", user_id="u-1", alert_id=alert_id, action="resolve", note="x" * 1025
            )
        assert [e.field for e in refused.value.errors] == ["note"]
        assert await queue.receive(max_messages=10, wait_seconds=0) == []


@pytest.mark.anyio
async def test_a_retried_action_under_one_key_is_sent_once_and_answers_the_same(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """Three sends with one key: one envelope, one action id; the key with another action: 422."""
    alert_id = _alert_id(store, db)
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        actions = AlertActions(
            queue=queue,
            read_models=lambda: db,
            clock=lambda: T0,
            idempotency=InMemoryIdempotencyStore(),
        )
        answers = [
            await actions.take(
                tenant="acme",
                user_id="u-1",
                alert_id=alert_id,
                action="acknowledge",
                idempotency_key="k-1",
            )
            for _ in range(3)
        ]
        with pytest.raises(IdempotencyKeyReused):
            await actions.take(
                tenant="acme",
                user_id="u-1",
                alert_id=alert_id,
                action="resolve",
                idempotency_key="k-1",
            )
        messages = await queue.receive(max_messages=10, wait_seconds=0)
    assert len({a.action_id for a in answers}) == 1
    assert [decode_envelope(m.body).ingest_id for m in messages] == [answers[0].action_id]


@pytest.mark.anyio
async def test_the_key_names_the_envelope_so_a_forgotten_key_is_still_recorded_once(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """Two stores (the key forgotten between sends): the same envelope id both times, which the
    workers record once; another person's same key is another envelope."""
    alert_id = _alert_id(store, db)
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        ids = []
        for user_id in ("u-1", "u-1", "u-2"):
            actions = AlertActions(
                queue=queue,
                read_models=lambda: db,
                clock=lambda: T0,
                idempotency=InMemoryIdempotencyStore(),
            )
            accepted = await actions.take(
                tenant="acme",
                user_id=user_id,
                alert_id=alert_id,
                action="acknowledge",
                idempotency_key="k-1",
            )
            ids.append(accepted.action_id)
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.anyio
async def test_an_action_on_a_version_the_alert_has_left_is_refused_and_sends_nothing(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """``expected_version`` other than the row's position: AlertChanged with the current one;
    the current one: sent."""
    alert_id = _alert_id(store, db)
    row = alerts.by_id(db, tenant="acme", alert_id=alert_id)
    assert row is not None
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        actions = AlertActions(
            queue=queue,
            read_models=lambda: db,
            clock=lambda: T0,
            idempotency=InMemoryIdempotencyStore(),
        )
        with pytest.raises(AlertChanged) as changed:
            await actions.take(
                tenant="acme",
                user_id="u-1",
                alert_id=alert_id,
                action="acknowledge",
                expected_version=row.position - 1,
            )
        assert changed.value.version == row.position
        assert await queue.receive(max_messages=10, wait_seconds=0) == []
        await actions.take(
            tenant="acme",
            user_id="u-1",
            alert_id=alert_id,
            action="acknowledge",
            expected_version=row.position,
        )
        assert len(await queue.receive(max_messages=10, wait_seconds=0)) == 1
