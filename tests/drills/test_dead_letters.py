"""Drill: accepted envelopes end in the dead-letter queue; the runbook's redrive decides them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from harness import Helios, Runbook

from helios.adapters.embedded_queue import EmbeddedQueue


async def _take_in(data: Path) -> None:
    """A receive, as a worker's first one: it moves what the API accepted from its intake file
    into the queue's file (and is then abandoned, as by a crash)."""
    async with EmbeddedQueue(
        path=data / "queue.db", intake_path=data / "intake.db", name="ingest"
    ) as queue:
        await queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=1)


def _dead_letter_everything(data: Path) -> int:
    """What three failed deliveries do to a message in the embedded queue (the failure itself
    — a worker bug since fixed — is what a drill cannot cause on demand)."""
    asyncio.run(_take_in(data))
    with sqlite3.connect(data / "queue.db") as db:
        moved = db.execute(
            "UPDATE queue_messages SET dead_at_ms = sent_at_ms + 1, receive_count = 3"
            " WHERE queue = 'ingest' AND dead_at_ms IS NULL"
        ).rowcount
    return int(moved)


def test_dead_letters_are_found_shown_and_redriven_into_decisions(helios: Helios) -> None:
    runbook = Runbook("dead-letters")
    issued = helios.provision()
    helios.start("api")
    names = ["DeadLetterA", "DeadLetterB", "DeadLetterC"]
    assert helios.post_alerts(issued["routing_key"], names) == [202, 202, 202]
    assert _dead_letter_everything(helios.root / "data") == 3
    assert helios.metric('helios_queue_dead_letters{queue="ingest"}') == 3

    diagnosis = runbook.run("diagnose", helios.env)
    assert diagnosis.stdout.count(issued["tenant_id"]) >= 3
    assert '"source": "alertmanager"' in diagnosis.stdout

    runbook.run("recover", helios.env)
    helios.start("worker")
    helios.wait_until_decided("the redriven envelopes to be decided")
    runbook.run("verify", helios.env)
    helios.stop("worker")
    # Each redriven envelope was decided once, and the decisions replay as recorded.
    report = helios.cli("replay", "verify", "--json")
    assert report["inputs"] >= 3  # the three envelopes (and the tenant's set-up)
    assert report["decisions"] >= 3
    assert report["divergence_count"] == 0
