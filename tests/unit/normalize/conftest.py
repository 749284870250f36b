"""Fixtures for the normalizer tests: payload files and envelopes around them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helios.domain.normalize import NormalizeResult, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Envelope, SourceKind

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
RECEIVED_AT = parse_rfc3339("2026-03-14T09:25:00Z")

MakeEnvelope = Callable[..., Envelope]
Run = Callable[..., NormalizeResult]


@pytest.fixture
def payload() -> Callable[[str], bytes]:
    """The bytes of a fixture payload, e.g. ``payload("examples/pagerduty_v2_trigger.json")``."""
    return lambda name: (PAYLOADS / name).read_bytes()


@pytest.fixture
def payload_json() -> Callable[[str], Any]:
    """A fixture payload decoded, to be altered by a test and encoded again."""
    return lambda name: json.loads((PAYLOADS / name).read_bytes())


@pytest.fixture
def make_envelope() -> MakeEnvelope:
    def make(
        source: SourceKind,
        body: bytes | dict[str, Any],
        *,
        received_at: int = RECEIVED_AT,
        integration: str = "int-1",
        ingest_id: str = "ing-1",
        tenant: str = "acme",
    ) -> Envelope:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        return Envelope(
            ingest_id=ingest_id,
            tenant=tenant,
            integration=integration,
            source=source,
            received_at=received_at,
            body=raw,
        )

    return make


@pytest.fixture
def run(make_envelope: MakeEnvelope) -> Run:
    """Normalize a body from a source with the default ruleset (or ``ruleset=``)."""

    def run_(
        source: SourceKind,
        body: bytes | dict[str, Any],
        *,
        ruleset: Ruleset | None = None,
        **envelope: Any,
    ) -> NormalizeResult:
        return normalize(make_envelope(source, body, **envelope), ruleset or Ruleset())

    return run_
