"""Replay end to end: logs written by the real Ingestor, then verify, explain and what-if."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
import msgspec
import pytest

from helios import replay
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application import rules_file
from helios.apps.application.ingest import Ingestor
from helios.apps.cli import main
from helios.domain import ruleset_stream, silence
from helios.domain.ruleset import DEFAULT_RULESET, LabelMatcher, MatchOp, Multiplier
from helios.domain.values import MINUTE_MS, Envelope, SourceKind
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z
TENANT = "acme"
RULES_AT = T0 + 30 * MINUTE_MS
CURRENT_RULES = attrs.evolve(
    DEFAULT_RULESET,
    version=1,
    multipliers=(Multiplier(name="checkout", percent=150, service="checkout-api"),),
)


def _pd(
    key: str, action: str, at: int, *, severity: str = "warning", service: str = "api"
) -> bytes:
    body = json.loads((PAYLOADS / "pagerduty_v2_trigger.json").read_text())
    body.update(dedup_key=key, event_action=action)
    body["payload"].update(severity=severity, component=service, timestamp=_iso(at))
    return json.dumps(body).encode()


def _iso(at: int) -> str:
    from helios.domain.timestamps import format_rfc3339

    return format_rfc3339(at)


class _Feed:
    """Envelopes with unique ingest ids and increasing received_at."""

    def __init__(self) -> None:
        self.count = 0

    def envelope(self, source: SourceKind, body: bytes, at: int, tenant: str = TENANT) -> Envelope:
        self.count += 1
        return Envelope(
            ingest_id=f"in-{self.count}",
            tenant=tenant,
            integration=f"{source.value}-1",
            source=source,
            received_at=at,
            body=body,
        )


def build_history(store: EventStore) -> None:
    """A realistic log: HA duplicates, several sources, out-of-order resolves, ticks, a
    ruleset published mid-way, a silence, a second tenant and a rejected envelope."""
    ingest, feed = Ingestor(store), _Feed()
    am_firing = (PAYLOADS / "alertmanager_v4_firing.json").read_bytes()
    am_resolved = (PAYLOADS / "alertmanager_v4_resolved.json").read_bytes()
    grafana = (PAYLOADS / "grafana_webhook_firing.json").read_bytes()
    pd_trigger = (PAYLOADS / "pagerduty_v2_trigger.json").read_bytes()
    at = T0
    ingest.ingest(
        [
            feed.envelope(SourceKind.ALERTMANAGER, am_firing, at),
            feed.envelope(SourceKind.ALERTMANAGER, am_firing, at + 5),  # the HA twin
            feed.envelope(SourceKind.PAGERDUTY, pd_trigger, at + 9),
            feed.envelope(SourceKind.GRAFANA, grafana, at + 12),
            feed.envelope(SourceKind.PAGERDUTY, b"{not json", at + 15),
            feed.envelope(SourceKind.PAGERDUTY, _pd("other-1", "trigger", at), at, "globex"),
        ]
    )
    for step in range(4):
        at = T0 + (step + 1) * 5 * MINUTE_MS
        batch = [
            feed.envelope(
                SourceKind.PAGERDUTY, _pd(f"svc-{i}/latency", "trigger", at - i, severity=sev), at
            )
            for i, sev in enumerate(("critical", "error", "warning", "info"))
        ]
        # A resolve that overtakes its trigger: it is delivered one batch early.
        batch.append(
            feed.envelope(SourceKind.PAGERDUTY, _pd(f"late-{step}", "resolve", at + 60_000), at)
        )
        batch.append(
            feed.envelope(
                SourceKind.PAGERDUTY, _pd(f"late-{step - 1}", "trigger", at - 60_000), at + 1
            )
        )
        ingest.ingest(batch)
    ingest.ingest([feed.envelope(SourceKind.ALERTMANAGER, am_resolved, T0 + 21 * MINUTE_MS)])
    ingest.tick(TENANT, ["svc-0/latency", "svc-1/latency"], T0 + 25 * MINUTE_MS)
    _publish(store, CURRENT_RULES)
    _silence(
        store,
        "maint-db",
        LabelMatcher(name="component", op=MatchOp.EQ, value="db"),
        RULES_AT,
        RULES_AT + 60 * MINUTE_MS,
    )
    for step in range(3):
        at = RULES_AT + (step + 1) * MINUTE_MS
        ingest.ingest(
            [
                feed.envelope(
                    SourceKind.PAGERDUTY, _pd("pay-1", "trigger", at, service="payments"), at
                ),
                feed.envelope(
                    SourceKind.PAGERDUTY, _pd("pay-2", "trigger", at, service="payments"), at + 1
                ),
                feed.envelope(
                    SourceKind.PAGERDUTY, _pd("web-1", "trigger", at, service="web"), at + 2
                ),
                feed.envelope(
                    SourceKind.PAGERDUTY,
                    _pd("db-1", "trigger", at, severity="critical", service="db"),
                    at + 3,
                ),
                feed.envelope(SourceKind.PAGERDUTY, pd_trigger, at + 4),
            ]
        )
    ingest.tick(TENANT, ["pay-1", "db-1"], RULES_AT + 40 * MINUTE_MS)


def _publish(store: EventStore, ruleset: object) -> None:
    command = ruleset_stream.PublishRuleset(ruleset=ruleset, at=RULES_AT)  # type: ignore[arg-type]
    events = ruleset_stream.decide(command, ruleset_stream.initial_state(TENANT))
    stream = ruleset_stream.ruleset_stream_id(TENANT)
    store.append(
        AppendBatch(streams=(StreamAppend(stream_id=stream, expected_version=0, events=events),))
    )


def _silence(store: EventStore, sid: str, matcher: LabelMatcher, start: int, end: int) -> None:
    created = silence.SilenceCreated(
        silence=silence.Silence(silence_id=sid, matchers=(matcher,), starts_at=start, ends_at=end),
        at=start,
    )
    stream = silence.silences_stream_id(TENANT)
    store.append(
        AppendBatch(
            streams=(StreamAppend(stream_id=stream, expected_version=0, events=(created,)),)
        )
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'helios.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        schema = f"replay_{tmp_path.name[-12:].replace('-', '_').lower()}"
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        full = f"{url}?schema={schema}"
        migrate(full)
        yield full


@pytest.fixture
def recorded(store_url: str) -> Iterator[EventStore]:
    store = open_event_store(store_url)
    build_history(store)
    yield store
    store.close()


def test_verify_passes_on_a_log_written_by_the_ingestor(recorded: EventStore) -> None:
    """Every decision recomputed from the recorded inputs equals the recorded one."""
    report = replay.verify(recorded, page_size=7, capacity=16)
    assert report.divergences == ()
    assert report.ok
    assert report.inputs > 40
    assert report.decisions > 100
    assert report.events == len(recorded.read_log(0, 100_000))


def test_verify_with_a_tiny_state_cache_reloads_evicted_states(recorded: EventStore) -> None:
    """States evicted to the spill file come back (without their derived folds) and verify."""
    from helios.apps.application.replay.log import Window
    from helios.apps.application.replay.verify import Verifier

    report = Verifier(recorded, window=Window(), page_size=50, capacity=1).run()
    assert report.ok, report.divergences[:1]
    assert report.states_reloaded > 0
    assert report.states_rebuilt == 0


def test_a_window_rebuilds_the_states_before_it_from_the_store(recorded: EventStore) -> None:
    """History before the window is not replayed: its states are rebuilt from their streams."""
    from helios.apps.application.replay.log import Window
    from helios.apps.application.replay.verify import Verifier

    window = Window(since=RULES_AT)
    report = Verifier(recorded, window=window, page_size=50, capacity=1).run()
    assert report.ok, report.divergences[:1]
    assert report.states_rebuilt > 0


def test_verify_of_one_tenant_and_a_window_passes(recorded: EventStore) -> None:
    """A tenant filter and a time window verify what they select and skip the rest."""
    report = replay.verify(recorded, tenant=TENANT, since=RULES_AT, page_size=13)
    assert report.ok, report.divergences[:1]
    whole = replay.verify(recorded)
    assert 0 < report.decisions < whole.decisions
    early = replay.verify(recorded, until=T0 + 10 * MINUTE_MS)
    assert early.ok
    assert early.decisions < whole.decisions


def test_a_tampered_score_is_caught_at_its_position(tmp_path: Path) -> None:
    """Re-encoding an AlertScored with another score in SQLite is a divergence right there."""
    path = tmp_path / "helios.db"
    store = open_event_store(f"sqlite:{path}")
    build_history(store)
    store.close()
    codec = EventCodec()
    with sqlite3.connect(path) as db:
        rowid, topic, state = db.execute(
            "SELECT rowid, topic, state FROM stored_events WHERE topic = ? "
            "ORDER BY rowid LIMIT 1 OFFSET 3",
            ("helios.alert.scored.v1",),
        ).fetchone()
        _, event = codec.decode(topic, state)
        _, forged = codec.encode(msgspec.structs.replace(event, score=event.score + 7))
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (forged, rowid))
    store = open_event_store(f"sqlite:{path}")
    report = replay.verify(store)
    store.close()
    assert not report.ok
    first = report.divergences[0]
    assert (first.kind, first.position, first.name) == ("changed", rowid, "helios.alert.scored.v1")
    assert first.recorded["score"] == event.score + 7
    assert first.recomputed["score"] == event.score
    assert main(["replay", "verify", "--store", f"sqlite:{path}", "--json"]) == 1


def test_what_if_with_the_current_rules_changes_nothing(recorded: EventStore) -> None:
    """Replaying the window under the rules that were in force reproduces it exactly."""
    report = replay.what_if(recorded, rules=CURRENT_RULES, tenant=TENANT, since=RULES_AT)
    assert report.inputs == 16
    assert not report.changed
    assert report.before == report.after
    assert report.before["P2"] >= 1  # db-1 (critical, 70 + recurrence)


def test_what_if_with_a_raised_multiplier_raises_exactly_those_alerts(recorded: EventStore) -> None:
    """A 200 % multiplier on the payments service lifts the two payments alerts only."""
    raised = attrs.evolve(
        CURRENT_RULES,
        version=2,
        multipliers=(
            *CURRENT_RULES.multipliers,
            Multiplier(name="pay", percent=200, service="payments"),
        ),
    )
    report = replay.what_if(recorded, rules=raised, tenant=TENANT, since=RULES_AT)
    changed = {(c.dedup_key, c.before, c.after) for c in report.changes}
    assert changed == {("pay-1", "P4", "P2"), ("pay-2", "P4", "P2")}
    change = report.changes[0]
    assert [f.name for f in change.after_factors][:2] == ["severity", "multiplier:pay"]
    assert {(n.dedup_key, n.reason, n.priority) for n in report.would_notify} == {
        ("pay-1", "triggered", "P2"),
        ("pay-1", "escalation", "P2"),  # P2 is escalated when the tick finds it unacknowledged
        ("pay-2", "triggered", "P2"),
    }
    assert report.would_not_notify == ()
    assert report.after["P2"] == report.before["P2"] + 2


def test_explain_tells_a_known_alerts_story(
    recorded: EventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkout alert from PagerDuty: triggered once, then the same report three times."""
    key = "prod-eu-1/checkout/CheckoutHighErrorRate"
    story = replay.explain(recorded, tenant=TENANT, dedup_key=key)
    assert story.status == "triggered"
    assert story.signals[0].source == "pagerduty"
    assert story.signals[0].action == "trigger"
    assert [s.duplicate for s in story.signals] == [False, True, True, True]
    scored = [d for d in story.decisions if d.score is not None]
    assert [(d.kind, d.priority, d.score, d.ruleset_version) for d in scored] == [
        ("triggered", "P2", 70, 0)
    ]
    assert "scored P2 (70)" in scored[0].what
    assert [(f.name, f.input, f.effect) for f in scored[0].factors] == [
        ("severity", "critical", 70)
    ]
    # Duplicates change nothing, not even under the ruleset published in between.
    assert [d.kind for d in story.decisions] == ["triggered", "notification_requested"]
    assert story.decisions[-1].what == "notify on-call by email: triggered at P2"


def test_explain_on_the_command_line_prints_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``helios replay explain`` renders tables on a terminal and the same story as JSON."""
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line, whatever the terminal
    url = f"sqlite:{tmp_path / 'helios.db'}"
    store = open_event_store(url)
    build_history(store)
    store.close()
    assert main(["replay", "explain", "--store", url, "--tenant", TENANT, "db-1"]) == 0
    text = capsys.readouterr().out
    assert "alert db-1" in text
    assert "silenced by: maint-db" in text
    assert "severity (critical): +70" in text
    assert "notification (escalation) suppressed: silenced" in text
    assert main(["replay", "explain", "--store", url, "--tenant", TENANT, "db-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dedup_key"] == "db-1"
    assert data["silenced_by"] == ["maint-db"]
    assert data["priority"] == "P2"
    assert data["signals"][0]["source"] == "pagerduty"
    kinds = [d["kind"] for d in data["decisions"]]
    assert "notification_suppressed" in kinds
    assert main(["replay", "explain", "--store", url, "--tenant", TENANT, "nope"]) == 2
    assert main(["replay", "verify", "--store", url]) == 0
    assert "verify OK" in capsys.readouterr().out


def test_what_if_on_the_command_line_reads_a_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dumped ruleset round-trips through the CLI; a broken one is a usage error."""
    url = f"sqlite:{tmp_path / 'helios.db'}"
    store = open_event_store(url)
    build_history(store)
    store.close()
    assert main(["replay", "dump-rules", "--store", url, "--tenant", TENANT]) == 0
    rules = tmp_path / "rules.toml"
    rules.write_text(capsys.readouterr().out)
    assert rules_file.load(str(rules)) == CURRENT_RULES
    since = "2026-03-14T09:50:00Z"
    args = [
        "replay",
        "what-if",
        "--store",
        url,
        "--rules",
        str(rules),
        "--tenant",
        TENANT,
        "--since",
        since,
    ]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    rules.write_text(rules.read_text().replace("P2 = 60", "P2 = 95"))
    assert main(args) == 2
    assert "scoring.thresholds" in capsys.readouterr().err


def test_a_note_added_to_an_incident_is_replayed_as_an_input(recorded: EventStore) -> None:
    """People's notes go straight onto an incident group's stream; verify accepts them, and
    later decisions of that group still verify."""
    from helios.domain import incident

    groups = [
        e for e in recorded.read_log(0, 100_000) if isinstance(e.event, incident.IncidentOpened)
    ]
    opened = groups[0]
    group_events = recorded.read_stream(opened.stream_id)
    note = incident.IncidentNoteAdded(
        incident_id=opened.event.incident_id, author="user:u1", text="rolled back", at=T0
    )
    recorded.append(
        AppendBatch(
            streams=(
                StreamAppend(
                    stream_id=opened.stream_id,
                    expected_version=group_events[-1].version,
                    events=(note,),
                ),
            )
        )
    )
    report = replay.verify(recorded, page_size=7, capacity=16)
    assert report.divergences == ()
    assert report.ok
