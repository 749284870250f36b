"""Recorded history is bytes: signal ids, details text, stream ids and stored event encodings
must never change, whatever is done to the code that computes them (replay compares them byte
for byte). These values were captured from the reference implementation; a failure here means
a change would alter recorded history, not that the expected values need updating."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pytest

from helios.adapters.store.codec import EventCodec
from helios.domain import alert, engine, identity, incident, versions
from helios.domain.intake import outcome_event
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.domain.values import Action, Envelope, Severity, SourceKind

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
RECEIVED_AT = 1_773_480_300_000

# Details with everything a canonical encoder can get wrong: key order (including non-ASCII
# keys), escapes, non-BMP characters, U+2028, big and negative integers, floats that Python
# writes with an exponent, nesting, empty containers.
TRICKY_DETAILS = {
    "zeta": [1, -2, 2**64 - 1, -(2**63), 0.1, 1e22, 1e-7, 123456789.125, 3.0e16, 5e-324, 1.0],
    "Alpha": {"é": "ü", "中": "\U0001f600", "a\nb": "tab\there", "q": '"quoted" \\ back'},
    "ctl": "\x00\x01\x1f\x7f\u2028\u2029</script>&",
    "é": None,
    "b": [True, False, None, [], {}],
    "": "empty key",
    "a": {"nested": {"deeper": [{"x": 1}, {"y": [2, 3]}]}},
}

GENERIC_TRIGGER = {
    "action": "trigger",
    "summary": "Disk on db-1 is 95% full — ünïcode ✓",
    "severity": "page",
    "occurred_at": "2026-03-14T09:21:30.512345+01:00",
    "service": "storage",
    "component": "postgres",
    "labels": {"instance": "db-1:9100", "team": "dba", "alertname": "DiskFull"},
    "links": [{"href": "https://runbooks.example/disk", "text": "Runbook"}],
    "details": TRICKY_DETAILS,
    "unknown_top_level": {"kept": [1.5, "x"]},
}


def _envelope(source: SourceKind, body: bytes, ingest_id: str, offset_s: int = 0) -> Envelope:
    return Envelope(
        ingest_id=ingest_id,
        tenant="acme",
        integration="int-1",
        source=source,
        received_at=RECEIVED_AT + offset_s * 1000,
        body=body,
    )


def _envelopes() -> list[Envelope]:
    def fixture(name: str) -> bytes:
        return (PAYLOADS / name).read_bytes()

    generic_resolve = dict(GENERIC_TRIGGER, action="resolve", occurred_at="2026-03-14T09:40:00Z")
    return [
        _envelope(SourceKind.ALERTMANAGER, fixture("alertmanager_v4_firing.json"), "am-1"),
        _envelope(SourceKind.PAGERDUTY, fixture("pagerduty_v2_trigger.json"), "pd-1", 5),
        _envelope(SourceKind.GRAFANA, fixture("grafana_webhook_firing.json"), "gf-1", 10),
        _envelope(SourceKind.CLOUDWATCH, fixture("sns_cloudwatch_notification.json"), "cw-1", 20),
        _envelope(SourceKind.PAGERDUTY, fixture("pagerduty_v2_acknowledge.json"), "pd-2", 60),
        _envelope(
            SourceKind.GENERIC,
            json.dumps(GENERIC_TRIGGER, ensure_ascii=False).encode(),
            "gen-1",
            90,
        ),
        _envelope(SourceKind.ALERTMANAGER, fixture("alertmanager_v4_resolved.json"), "am-2", 900),
        _envelope(SourceKind.PAGERDUTY, fixture("pagerduty_v2_resolve.json"), "pd-3", 950),
        _envelope(SourceKind.GENERIC, json.dumps(generic_resolve).encode(), "gen-2", 1200),
    ]


RULESET = Ruleset(
    version=2,
    multipliers=(
        Multiplier(
            name="prod",
            percent=150,
            matchers=(LabelMatcher(name="cluster", op=MatchOp.RE, value="prod-.*"),),
        ),
    ),
)


def _short(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:24]


def _decided(decode: object) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Per signal: (signal id, digest of its details, digest of the stored outcome event);
    per decided event: (stream id, name, digest of the stored state)."""
    codec = EventCodec()
    # The history pinned here was recorded before inputs carried an engine version.
    context = engine.TenantContext(ruleset=RULESET, engine_version=versions.LEGACY)
    working = engine.Working(alerts={}, groups={})
    signals: list[tuple[str, str, str]] = []
    for envelope in _envelopes():
        result = normalize(
            envelope,
            RULESET,
            decode=decode,  # type: ignore[arg-type]
            version=versions.LEGACY,
        )
        assert isinstance(result, Normalized), result
        _, outcome = codec.encode(
            outcome_event(envelope, result, RULESET.version, engine_version=versions.LEGACY)
        )
        for signal in result.signals:
            signals.append((signal.signal_id, _short(signal.details), _short(outcome)))
            missing = engine.apply_signal(working, signal, context)
            if missing is not None:
                for group in missing.groups:
                    working.groups[group] = incident.initial_state(*group)
                assert engine.apply_signal(working, signal, context) is None
    events = []
    for stream, decided in working.events.items():
        for event in decided:
            name, state = codec.encode(event)
            events.append((str(stream), name, _short(state)))
    return signals, events


def test_signal_ids_are_pinned() -> None:
    """The content hash of a signal is the same bytes as when history was recorded."""
    assert (
        identity.signal_id(
            tenant="acme",
            source="alertmanager",
            dedup_key="3f9c1a7e52b04d18",
            action=Action.TRIGGER,
            occurred_at=1_773_480_090_512,
            severity=Severity.CRITICAL,
            summary="5xx rate — ünïcode \U0001f600",
            labels=(("alertname", "X"), ("quote", 'a"b\\c\n'), ("é", "中")),
        )
        == "sig-bd630935c90155ee8318521db3d5bb49"
    )
    assert identity.stable_hash("a", "", "bc", "\U0001f600") == "6671cfa7d652da025e813bc439a04a48"
    assert identity.labels_dedup_key(
        (("alertname", "DiskFull"), ("instance", "db-1")), ("alertname", "service", "instance")
    ) == ("lbl-649f9f31b60803f08c3c883e2be24bd5")


def test_content_signal_ids_are_pinned() -> None:
    """The content hash of a signal without a time of its own (engine version 2) is pinned
    too: history recorded with it replays only if it stays the same bytes."""
    assert (
        identity.content_signal_id(
            tenant="acme",
            source="pagerduty",
            dedup_key="51ff10923c5bd6753d836442ddd771519e24c8d92a1996bd9dc2da25dab17f44",
            action=Action.TRIGGER,
            severity=Severity.ERROR,
            summary="[FIRING:1] DiskFilling storage (db-1:9100 warning)",
            labels=(("source", "Alertmanager"),),
            service="storage",
        )
        == "sgc-3034e5b2850cbf55630ee882fca6f98b"
    )


def test_stream_ids_are_pinned() -> None:
    """Stream ids are UUID v5 of the natural key, unchanged."""
    assert str(alert.alert_stream_id("acme", "k1")) == "7607df09-9019-5cd9-ba72-7cd6df9dfe21"
    assert (
        str(incident.group_stream_id("acme", "service=checkout"))
        == "98344832-9b4f-53ab-a08a-580421be531a"
    )
    assert incident.incident_id_for("acme", "service=checkout", 3) == "inc-1585222a8d565ad088e9efec"


def test_tricky_details_text_is_pinned() -> None:
    """Canonical details: sorted keys, compact, UTF-8, Python's float and escape rendering."""
    result = normalize(_envelopes()[5], RULESET, version=versions.LEGACY)
    assert isinstance(result, Normalized)
    assert result.signals[0].details == (
        '{"":"empty key","Alpha":{"a\\nb":"tab\\there","q":"\\"quoted\\" \\\\ back",'
        '"é":"ü","中":"😀"},"a":{"nested":{"deeper":[{"x":1},{"y":[2,3]}]}},'
        '"b":[true,false,null,[],{}],"ctl":"\\u0000\\u0001\\u001f\x7f\u2028\u2029</script>&",'
        '"unknown_top_level":{"kept":[1.5,"x"]},"zeta":[1,-2,18446744073709551615,'
        "-9223372036854775808,0.1,1e+22,1e-07,123456789.125,3e+16,5e-324,"
        '1.0],"é":null}'
    )


@pytest.mark.parametrize("decode", [json.loads, orjson.loads], ids=["json", "orjson"])
def test_normalized_signals_and_details_are_pinned(decode: object) -> None:
    """Every signal id, details text and stored outcome of the sample envelopes is unchanged,
    whichever JSON decoder is injected."""
    signals, _ = _decided(decode)
    assert signals == EXPECTED_SIGNALS


def test_decided_event_encodings_are_pinned() -> None:
    """Every decision of the sample history encodes to the same stored bytes."""
    _, events = _decided(orjson.loads)
    assert events == EXPECTED_EVENTS


EXPECTED_SIGNALS = [
    (
        "sig-67e0ca5977d51c44cfa873fb374c3083",
        "74ec1d3429c1a8fbde385e84",
        "0b551b8761aa8e1ed0f2ed57",
    ),
    (
        "sig-e107475a9e35cd778c40664d13a981f7",
        "c830c87a5a510f6fca3014c0",
        "0b551b8761aa8e1ed0f2ed57",
    ),
    (
        "sig-8d45d784e8a21e550dfb78fe56c9fdb3",
        "3b65d66759875c540eee2604",
        "221aab4ed64671818d14b803",
    ),
    (
        "sig-aefb657820713ca306733b80c51c8a54",
        "0a5e1d2a8b470975dd4d622b",
        "de1ee0eff8a01a04e3fd9559",
    ),
    (
        "sig-94de11e15a2a6c40f286ee74fc4db825",
        "1eefa44f1724725194cb3cbd",
        "d69b3ae479b53ff0449a94a9",
    ),
    (
        "sig-d7d560e136df4d7f2fe605d93f7dc263",
        "44136fa355b3678a1146ad16",
        "ec3d4e0990c3c92b91ee5079",
    ),
    (
        "sig-f95c50af63a9625ce71d79fb085a6010",
        "f7facc05b1be4fcc66d7c724",
        "7d1c4aa775f702b15d7ccffc",
    ),
    (
        "sig-82b25563a08fc33522086887e1164239",
        "5d93bb9d0437ad61ecb5c489",
        "d7c151132d552e95cc30ed01",
    ),
    (
        "sig-6ca567e33a0cca11b123f221e0dd79bf",
        "118ab18a43944d0d2674c3f8",
        "d7c151132d552e95cc30ed01",
    ),
    (
        "sig-7a5ab9aa724b481f31b3168a261b3977",
        "44136fa355b3678a1146ad16",
        "8f79445fd62ca177684b1a4c",
    ),
    (
        "sig-88c00bd09219c2194ca2479ab9e58b25",
        "f7facc05b1be4fcc66d7c724",
        "8b87f04098ec60442a9bc858",
    ),
]

EXPECTED_EVENTS = [
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.signal_accepted.v1",
        "8634d395332db82c95d2c382",
    ),
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.triggered.v1",
        "e501b14060685f202118c6c2",
    ),
    ("0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7", "helios.alert.scored.v1", "42e63354a72d7d9278ad7567"),
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.notification_requested.v1",
        "a37c5159ada1bb02ab74ec86",
    ),
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.signal_accepted.v1",
        "c87edbeac3ca15aad8819740",
    ),
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.resolved.v1",
        "d3405da720785624f2c32eda",
    ),
    (
        "0ad172b9-6f85-5ce8-bb0f-e3b1cde527b7",
        "helios.alert.notification_requested.v1",
        "727d9ffbb69197bf38e7a86a",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.opened.v1",
        "c176e3f83bb9f4f98fc0abd8",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.alert_joined.v1",
        "e4234be95e96dbb95c3517a7",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.priority_changed.v1",
        "6f3630e4a200f013afcb03dd",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.notified.v1",
        "50f1e915846ff8b3d339caa6",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.alert_joined.v1",
        "d208132f6b19e60bf5068bda",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.notified.v1",
        "c3c42c4407b485c70eb06ad1",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.alert_changed.v1",
        "2e4750c305ff38485dc122bf",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.notified.v1",
        "d27cfbd21dd32fde0174096d",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.alert_changed.v1",
        "94cdf43df584d4725f494a96",
    ),
    (
        "98344832-9b4f-53ab-a08a-580421be531a",
        "helios.incident.resolved.v1",
        "2cad1a1b1062f0fed972bc41",
    ),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.signal_accepted.v1",
        "1d49c420fdc527e2af642e2c",
    ),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.triggered.v1",
        "e54842b8a3d187d2cf5b398c",
    ),
    ("f881342f-309b-54e0-b3dd-bb112f0e11b2", "helios.alert.scored.v1", "4e121367743fb75795eb0bc1"),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.notification_requested.v1",
        "4335dd0bea770660e9dc6501",
    ),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.signal_accepted.v1",
        "bfd4c5e81614ed8530abacd1",
    ),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.resolved.v1",
        "9e4375f6ed288e9256d482a8",
    ),
    (
        "f881342f-309b-54e0-b3dd-bb112f0e11b2",
        "helios.alert.notification_requested.v1",
        "71ee6689d3d8cf0546208725",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.signal_accepted.v1",
        "2a40772b7777b5f0c2b3ea46",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.triggered.v1",
        "b48c451592308526021c63ad",
    ),
    ("ec8fb862-269c-509d-9fb1-dc5a4acf9d2b", "helios.alert.scored.v1", "89a97b11e6e83aa423e96253"),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.notification_requested.v1",
        "196dd258407707fae84a69d0",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.signal_accepted.v1",
        "6f578956c07e91c06c9c7ec0",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.acknowledged.v1",
        "4899ba5f774fa2c4f56b6821",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.signal_accepted.v1",
        "d54821bca5866e8369985281",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.resolved.v1",
        "324578e26c76ba2aa1324b4e",
    ),
    (
        "ec8fb862-269c-509d-9fb1-dc5a4acf9d2b",
        "helios.alert.notification_requested.v1",
        "faf1ed664404f2cd79c03faa",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.opened.v1",
        "681762d6d112b937db766c2f",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.alert_joined.v1",
        "150d842aa049b81f27691ca6",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.priority_changed.v1",
        "b796ec84bf9a7f9e93dacc8b",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.notified.v1",
        "04cc3d0e521977db2e617773",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.alert_changed.v1",
        "0101c920a7b28a2f949814a9",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.alert_changed.v1",
        "f4a46dfb692640bee15c8c9a",
    ),
    (
        "4a702936-db79-54fc-b088-585349c13f7c",
        "helios.incident.resolved.v1",
        "13060737ddf46895b73dcd39",
    ),
    (
        "f0a7cb9e-38ec-50f1-8a55-5750edbc6cf8",
        "helios.alert.signal_accepted.v1",
        "3704288394d7a492e51cceca",
    ),
    (
        "f0a7cb9e-38ec-50f1-8a55-5750edbc6cf8",
        "helios.alert.triggered.v1",
        "3f4fe01242dbd472a11f97c5",
    ),
    ("f0a7cb9e-38ec-50f1-8a55-5750edbc6cf8", "helios.alert.scored.v1", "11bcb2ddc1062fd49a2add53"),
    (
        "2e3a2a18-f1d9-595b-beb3-374167322ee6",
        "helios.incident.opened.v1",
        "a97cd3e53ce2672392462495",
    ),
    (
        "2e3a2a18-f1d9-595b-beb3-374167322ee6",
        "helios.incident.alert_joined.v1",
        "004c5ce7c0afab351042664e",
    ),
    (
        "2e3a2a18-f1d9-595b-beb3-374167322ee6",
        "helios.incident.priority_changed.v1",
        "08809e79e2c1662d566b35a5",
    ),
    (
        "2a3897e3-e6a1-50d9-8af3-46e957b67c2e",
        "helios.alert.signal_accepted.v1",
        "f2345de5d1dfa18daa8802ca",
    ),
    (
        "2a3897e3-e6a1-50d9-8af3-46e957b67c2e",
        "helios.alert.triggered.v1",
        "da98782a40bdf3367df12ac0",
    ),
    ("2a3897e3-e6a1-50d9-8af3-46e957b67c2e", "helios.alert.scored.v1", "31608e78aae7977577d541fb"),
    (
        "177f0792-b4f0-5f28-9a0a-15aad0bad58e",
        "helios.incident.opened.v1",
        "7d4d2e287e77e819bff7d6f9",
    ),
    (
        "177f0792-b4f0-5f28-9a0a-15aad0bad58e",
        "helios.incident.alert_joined.v1",
        "0981211776219e3f113c98d3",
    ),
    (
        "177f0792-b4f0-5f28-9a0a-15aad0bad58e",
        "helios.incident.priority_changed.v1",
        "e76a949226b3df5235b03843",
    ),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.signal_accepted.v1",
        "14e83cee1512a8d14ccc016d",
    ),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.triggered.v1",
        "7569360d59b0cb4b3b27fa1f",
    ),
    ("2f906203-dbe4-5e4a-afbd-0883020acada", "helios.alert.scored.v1", "ccaedf79cb7f4dd3f28a76a2"),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.notification_requested.v1",
        "713af3c2173500855f73b674",
    ),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.signal_accepted.v1",
        "072570d169f9ee05492fea9b",
    ),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.resolved.v1",
        "9fba7fbf9c5738efa15bfa3c",
    ),
    (
        "2f906203-dbe4-5e4a-afbd-0883020acada",
        "helios.alert.notification_requested.v1",
        "6d05696a2a8a86cb41dd0a8a",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.opened.v1",
        "6730dfdabafd37cfaf81b9e3",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.alert_joined.v1",
        "560000cef5bf5296a54033e0",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.priority_changed.v1",
        "e9b01c0a19b408fbe440cf7c",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.notified.v1",
        "9866f9499834c98524452840",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.alert_changed.v1",
        "e287c63285333551418dfacc",
    ),
    (
        "8b2a4b77-a472-57f5-8cd1-5195c24c7067",
        "helios.incident.resolved.v1",
        "db3a82919b743b248f84721f",
    ),
]
