"""``helios db migrate``, ``helios queues create`` and ``helios dlq …``: the operator's commands,
run in-process against a SQLite file, the embedded queue and the SQS-compatible server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helios.apps.application.envelopes import envelope_message
from helios.apps.cli import main
from helios.apps.composition import open_blobs, open_event_store, open_queue
from helios.apps.settings import Settings
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import StoreUnavailable

Helios = Callable[..., tuple[int, Any]]


@pytest.fixture
def helios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Helios:
    """Run a ``helios`` command line in-process; returns (exit code, its output as JSON or
    text)."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    for name in ("HELIOS_STORE_URL", "HELIOS_QUEUE", "HELIOS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        out = capsys.readouterr().out
        try:
            return code, json.loads(out)
        except json.JSONDecodeError:
            return code, out

    return run


def test_db_migrate_creates_a_sqlite_store_that_then_opens(helios: Helios, tmp_path: Path) -> None:
    """The schema is created at the URL, twice without harm, and the store opens on it."""
    url = f"sqlite:{tmp_path / 'store.db'}"
    for _ in range(2):
        code, out = helios("db", "migrate", "--store", url)
        assert code == 0
        assert out == f"event store ready: {url}\n"
    store = open_event_store(url)
    try:
        assert store.max_position() == 0
    finally:
        store.close()


def test_db_migrate_refuses_an_unsupported_url(helios: Helios) -> None:
    """A scheme no store speaks is the operator's mistake, reported as such."""
    with pytest.raises(ValueError, match="ftp"):
        helios("db", "migrate", "--store", "ftp://example.com/db")


def test_open_event_store_says_when_the_store_cannot_be_reached() -> None:
    """A PostgreSQL server that is not there is StoreUnavailable, not a driver error."""
    with pytest.raises(StoreUnavailable):
        open_event_store("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")


def test_queues_create_needs_nothing_for_the_embedded_queue(helios: Helios) -> None:
    """The embedded queue file is created on first use: nothing to provision."""
    code, out = helios("queues", "create")
    assert code == 0
    assert out == {
        "queue": "embedded",
        "created": [],
        "note": "the embedded queue needs no provisioning",
    }


@pytest.mark.sqs
def test_queues_create_makes_the_sqs_queues_and_their_dead_letter_queues(
    helios: Helios, sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each named queue and its DLQ exist afterwards, under the prefix; a rerun is harmless."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    monkeypatch.setenv("HELIOS_QUEUE", "sqs")
    monkeypatch.setenv("HELIOS_SQS_ENDPOINT_URL", sqs_endpoint)
    monkeypatch.setenv("HELIOS_SQS_PREFIX", prefix)
    for _ in range(2):
        code, out = helios("queues", "create", "--name", "ingest", "--name", "analytics")
        assert code == 0
        assert out["queue"] == "sqs"
        assert [q["name"] for q in out["created"]] == ["ingest", "analytics"]
        for queue in out["created"]:
            assert queue["url"].endswith(f"/{prefix}{queue['name']}")
            assert queue["dead_letter_url"].endswith(f"/{prefix}{queue['name']}-dlq")


@pytest.mark.sqs
def test_with_sqs_fifo_the_ingest_queue_is_created_fifo_and_a_dead_letter_redrives_into_it(
    helios: Helios, sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HELIOS_SQS_FIFO: ``<prefix>ingest.fifo`` and its FIFO DLQ (analytics stays standard);
    the processes find it by name, send to it, and ``dlq redrive`` resends into its group."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    env = {
        "HELIOS_QUEUE": "sqs",
        "HELIOS_SQS_ENDPOINT_URL": sqs_endpoint,
        "HELIOS_SQS_PREFIX": prefix,
        "HELIOS_SQS_FIFO": "true",
        "HELIOS_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out = helios("queues", "create", "--name", "ingest", "--name", "analytics")
    assert code == 0
    urls = {q["name"]: (q["url"], q["dead_letter_url"]) for q in out["created"]}
    assert urls["ingest"][0].endswith(f"/{prefix}ingest.fifo")
    assert urls["ingest"][1].endswith(f"/{prefix}ingest-dlq.fifo")
    assert urls["analytics"][0].endswith(f"/{prefix}analytics")

    asyncio.run(_dead_letter_one(Settings.from_env(env)))
    code, moved = helios("dlq", "redrive", "--json", "--all")
    assert (code, moved) == (0, {"redriven": 1})

    async def receive_back() -> list[Any]:
        async with open_queue(Settings.from_env(env), open_blobs(Settings.from_env(env))) as q:
            return list(await q.receive(max_messages=10, wait_seconds=2))

    [back] = asyncio.run(receive_back())
    assert (back.attributes.tenant, back.receive_count) == ("acme", 1)


def _envelope() -> Envelope:
    return Envelope(
        ingest_id="ing-dead-1",
        tenant="acme",
        integration="int-1",
        source=SourceKind.GENERIC,
        received_at=1_700_000_000_000,
        body=b'{"summary": "disk full"}',
        content_type="application/json",
        headers=(),
    )


async def _dead_letter_one(settings: Settings) -> None:
    """An envelope received three times without being deleted: a dead letter."""
    async with open_queue(settings, open_blobs(settings)) as queue:
        await queue.send([envelope_message(_envelope(), correlation_id="req-dead")])
        for _ in range(3):
            await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)
        assert await queue.receive(max_messages=10, wait_seconds=0.5) == []


def test_dlq_lists_shows_and_redrives_a_dead_envelope(helios: Helios, tmp_path: Path) -> None:
    """``dlq list`` decodes the envelope, ``show`` prints its body, ``redrive`` moves it back."""
    settings = Settings.from_env({"HELIOS_DATA_DIR": str(tmp_path / "data")})
    # The commands run their own event loop, as from a shell: so does the setup.
    asyncio.run(_dead_letter_one(settings))

    code, listed = helios("dlq", "list", "--json")
    assert code == 0
    [row] = listed
    assert row["kind"] == "envelope.v1"
    assert (row["tenant"], row["ingest_id"], row["source"]) == ("acme", "ing-dead-1", "generic")
    assert row["correlation_id"] == "req-dead"
    assert row["body"] == '{"summary": "disk full"}'

    code, shown = helios("dlq", "show", "--json", row["message_id"])
    assert code == 0 and shown["integration"] == "int-1"

    code, moved = helios("dlq", "redrive", "--json", "--all")
    assert (code, moved) == (0, {"redriven": 1})
    code, listed = helios("dlq", "list", "--json")
    assert (code, listed) == (0, [])


def test_projections_rebuild_then_status_shows_each_follower_s_position(helios: Helios) -> None:
    """Over a new (empty) store: the rebuild reaches position 0, and the status lists the log
    head and each follower's position."""
    code, out = helios("projections", "rebuild")
    assert code == 0 and out.startswith("projections rebuilt up to position 0")
    code, out = helios("projections", "status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "log head: 0"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["projector", "0"],
        ["notifier", "0"],
        ["fanout", "0"],
        ["sns-confirmations", "0"],
    ]
