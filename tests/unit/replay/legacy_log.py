"""The log recorded before inputs carried an engine version, loaded byte for byte."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.memory import new_memory_recorder, open_memory_store
from helios.ports.event_store import EventStore

LOG = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "legacy_pagerduty_log.jsonl"


def legacy_store() -> EventStore:
    """A memory store holding exactly the recorded bytes, in log order."""
    recorder = new_memory_recorder()
    rows = [
        StoredEvent(
            originator_id=uuid.UUID(line["stream_id"]),
            originator_version=line["version"],
            topic=line["name"],
            state=base64.b64decode(line["state"]),
        )
        for line in map(json.loads, LOG.read_text().splitlines())
    ]
    recorder.insert_events(rows)
    return open_memory_store(codec=EventCodec(), recorder=recorder)
