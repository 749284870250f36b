"""A small history as Helios recorded it before label patterns were read by RE2.

``tests/fixtures/logs/pre-re2.db`` is this module's ``build`` run by the code of commit
84e10a5 (``python tests/e2e/pre_re2_log.py OUT.db``), whose silences, rules and inputs
carry no regex engine: every pattern in it was validated and matched with Python's ``re``.
It holds the patterns RE2 refuses or reads differently, so replaying it proves old records
still decide as they were decided. Only APIs that exist on both sides of the change are used.
"""

from __future__ import annotations

import json
import sys

import attrs

from helios.apps.application.ingest import Ingestor
from helios.domain import ruleset_stream, silence
from helios.domain.ruleset import DEFAULT_RULESET, LabelMatcher, MatchOp, Multiplier
from helios.domain.values import MINUTE_MS, Envelope, SourceKind
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend

TENANT = "acme"
T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z
SILENCES_END = T0 + 24 * 60 * MINUTE_MS

BACK_REFERENCE = r"(\w+)-\1"
"""Python's re reads a back-reference; RE2 refuses the pattern."""
UNICODE_DIGITS = r"\d+"
"""Python's re matches any Unicode digit; RE2 only 0-9."""
NESTED = r"(a+)+$"
"""Catastrophic backtracking in Python's re on a long run of ``a`` that fails to match."""

SILENCES = (
    ("sil-backref", LabelMatcher(name="instance", op=MatchOp.RE, value=BACK_REFERENCE)),
    ("sil-digits", LabelMatcher(name="shard", op=MatchOp.RE, value=UNICODE_DIGITS)),
    ("sil-nested", LabelMatcher(name="path", op=MatchOp.RE, value=NESTED)),
)

RULES = attrs.evolve(
    DEFAULT_RULESET,
    version=1,
    multipliers=(
        Multiplier(
            name="twin-team",
            percent=150,
            matchers=(LabelMatcher(name="team", op=MatchOp.RE, value=BACK_REFERENCE),),
        ),
    ),
)

ALERTS = (
    # fingerprint, labels: the first three fall under a silence when read by Python's re.
    ("fp-backref", {"instance": "db1-db1", "team": "ops-ops"}),
    ("fp-digits", {"shard": "\u0663"}),  # ARABIC-INDIC DIGIT THREE
    ("fp-nested", {"path": "aaaa"}),
    ("fp-nested-miss", {"path": "a" * 12 + "!"}),
    ("fp-plain", {"team": "web"}),
)


def alertmanager(fingerprint: str, labels: dict[str, str], at: int) -> bytes:
    """An Alertmanager webhook body with one firing critical alert."""
    from helios.domain.timestamps import format_rfc3339

    every = {"alertname": "Pathological", "severity": "critical", "service": "regex", **labels}
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "helios",
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": "firing",
                    "labels": every,
                    "annotations": {"summary": f"{fingerprint} is failing"},
                    "startsAt": format_rfc3339(at),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": fingerprint,
                }
            ],
        }
    ).encode()


def envelope(ingest_id: str, body: bytes, at: int) -> Envelope:
    return Envelope(
        ingest_id=ingest_id,
        tenant=TENANT,
        integration="am-1",
        source=SourceKind.ALERTMANAGER,
        received_at=at,
        body=body,
    )


def _append(store: EventStore, stream: object, expected: int, events: tuple[object, ...]) -> None:
    store.append(
        AppendBatch(
            streams=(StreamAppend(stream_id=stream, expected_version=expected, events=events),)  # type: ignore[arg-type]
        )
    )


def build(store: EventStore) -> None:
    """Rules and silences with such patterns, then alerts they match, then a tick."""
    published = ruleset_stream.decide(
        ruleset_stream.PublishRuleset(ruleset=RULES, at=T0), ruleset_stream.initial_state(TENANT)
    )
    _append(store, ruleset_stream.ruleset_stream_id(TENANT), 0, published)
    state = silence.initial_state(TENANT)
    for version, (silence_id, matcher) in enumerate(SILENCES):
        created = silence.decide(
            silence.CreateSilence(
                silence=silence.Silence(
                    silence_id=silence_id,
                    matchers=(matcher,),
                    starts_at=T0,
                    ends_at=SILENCES_END,
                    created_by="oncall@example.com",
                ),
                at=T0,
            ),
            state,
        )
        _append(store, silence.silences_stream_id(TENANT), version, created)
        for event in created:
            state = silence.evolve(state, event)
    ingest = Ingestor(store)
    at = T0 + MINUTE_MS
    ingest.ingest(
        [
            envelope(f"old-{i}", alertmanager(fingerprint, labels, at), at + i)
            for i, (fingerprint, labels) in enumerate(ALERTS)
        ]
    )
    ingest.tick(TENANT, [fingerprint for fingerprint, _ in ALERTS], T0 + 20 * MINUTE_MS)


if __name__ == "__main__":
    from helios.adapters.store.factory import open_event_store

    opened = open_event_store(f"sqlite:{sys.argv[1]}")
    build(opened)
    opened.close()
