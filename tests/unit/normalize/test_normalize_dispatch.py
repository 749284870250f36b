"""Dispatch: any body gives a typed result; duplicates share an id; decoders agree."""

from __future__ import annotations

import json

import orjson
import pytest
from normalize_support import only_signals, rejected_fields

from helios.domain import identity
from helios.domain.normalize import Control, Normalized, Rejected, normalize, user
from helios.domain.ruleset import Ruleset
from helios.domain.values import SourceKind

PAYLOADS = [
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_trigger.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_acknowledge.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_resolve.json"),
    (
        SourceKind.PAGERDUTY,
        "alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json",
    ),
    (
        SourceKind.PAGERDUTY,
        "alertmanager-0.25-captured/pagerduty_v2_resolve_from_alertmanager.json",
    ),
    (SourceKind.ALERTMANAGER, "examples/alertmanager_v4_firing.json"),
    (SourceKind.ALERTMANAGER, "examples/alertmanager_v4_resolved.json"),
    (SourceKind.ALERTMANAGER, "alertmanager-0.25-captured/webhook_v4_firing.json"),
    (SourceKind.ALERTMANAGER, "alertmanager-0.25-captured/webhook_v4_resolved.json"),
    (SourceKind.GRAFANA, "examples/grafana_webhook_firing.json"),
    (SourceKind.CLOUDWATCH, "examples/sns_cloudwatch_notification.json"),
    (SourceKind.CLOUDWATCH, "examples/cloudwatch_alarm_message.json"),
    (SourceKind.CLOUDWATCH, "examples/sns_subscription_confirmation.json"),
]
NORMALIZED_SOURCES = [kind for kind in SourceKind if kind is not SourceKind.USER]


@pytest.mark.parametrize(("source", "name"), PAYLOADS)
def test_orjson_decodes_to_the_same_result_as_json(make_envelope, payload, source, name):
    """The injected decoder is a speed choice only: results are equal."""
    envelope = make_envelope(source, payload(name))

    with_json = normalize(envelope, Ruleset(), decode=json.loads)
    with_orjson = normalize(envelope, Ruleset(), decode=orjson.loads)

    assert not isinstance(with_json, Rejected)
    assert with_orjson == with_json


@pytest.mark.parametrize(("source", "name"), PAYLOADS)
def test_an_ha_duplicate_has_the_same_signal_ids(make_envelope, payload, source, name):
    """The same payload through another integration, later, is the same observation."""
    later = 1_800_000_000_000  # after every fixture's own time, so nothing is clamped
    first = normalize(
        make_envelope(source, payload(name), integration="am-a", received_at=later), Ruleset()
    )
    second = normalize(
        make_envelope(source, payload(name), integration="am-b", received_at=later + 900),
        Ruleset(),
    )

    if isinstance(first, Control):
        assert second == first  # a channel message: no signal to identify
        return
    # A missing source time falls back to received_at, which differs between the copies: a
    # signal without a time of its own is recognised only when identified by its content (a
    # PagerDuty event without payload.timestamp).
    timed = [signal.occurred_at != signal.received_at for signal in only_signals(first)]
    ids_first = [signal.signal_id for signal in only_signals(first)]
    ids_second = [signal.signal_id for signal in only_signals(second)]
    for has_time, one, two in zip(timed, ids_first, ids_second, strict=True):
        assert (one == two) is (has_time or identity.is_content_id(one))


def test_alertmanager_ha_pair_copies_are_one_signal(make_envelope, payload_json):
    """Two Alertmanagers of an HA pair differ in receiver and externalURL only."""
    a = payload_json("examples/alertmanager_v4_firing.json")
    b = payload_json("examples/alertmanager_v4_firing.json")
    b["externalURL"] = "https://alertmanager-2.prod-eu-1.example.internal"
    b["notification_reason"] = "repeat"

    from_a = only_signals(normalize(make_envelope(SourceKind.ALERTMANAGER, a), Ruleset()))
    from_b = only_signals(
        normalize(
            make_envelope(SourceKind.ALERTMANAGER, b, integration="am-2", received_at=2 * 10**12),
            Ruleset(),
        )
    )

    assert [s.signal_id for s in from_a] == [s.signal_id for s in from_b]


@pytest.mark.parametrize("source", NORMALIZED_SOURCES)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'"a string"',
        b"42",
        b"\xff\xfe{}",
        b"\xef\xbb\xbf{}",
        b'{"a": "\xc3\x28"}',
        b'{"a": "\\ud800"}',
        b"[" * 100_000,
        '{"a": 1}'.encode("utf-16"),
    ],
)
@pytest.mark.parametrize("decode", [json.loads, orjson.loads])
def test_a_body_that_is_not_a_json_object_is_rejected_on_the_body(
    make_envelope, source, body, decode
):
    """Whatever the bytes and decoder, the result is a rejection naming the body."""
    result = normalize(make_envelope(source, body), Ruleset(), decode=decode)

    assert rejected_fields(result) == {"body"}


@pytest.mark.parametrize("decode", [json.loads, orjson.loads])
def test_a_lone_surrogate_inside_the_cloudwatch_message_is_rejected(make_envelope, decode):
    """The SNS Message is decoded with the same checks as the body."""
    body = json.dumps({"Type": "Notification", "Message": '{"AlarmName": "\\ud800"}'})

    result = normalize(
        make_envelope(SourceKind.CLOUDWATCH, body.encode()), Ruleset(), decode=decode
    )

    assert rejected_fields(result) == {"Message"}


def test_a_paired_surrogate_escape_is_an_ordinary_character(make_envelope):
    """Escaped emoji (as json.dumps writes them) are valid text."""
    body = json.dumps({"action": "trigger", "summary": "fire \U0001f525"}).encode()

    signal = only_signals(normalize(make_envelope(SourceKind.GENERIC, body), Ruleset()))[0]

    assert signal.summary == "fire \U0001f525"


def test_a_not_finite_number_is_rejected_whatever_the_decoder_allows(make_envelope):
    """json accepts NaN, orjson does not; both end in a rejection."""
    body = b'{"action": "trigger", "summary": "s", "details": {"ratio": NaN}}'

    for decode in (json.loads, orjson.loads):
        result = normalize(make_envelope(SourceKind.GENERIC, body), Ruleset(), decode=decode)
        assert isinstance(result, Rejected)


def test_user_actions_are_normalized_from_the_api_s_small_body(make_envelope):
    """Human actions enter as envelopes the API wrote; a malformed one names its fields."""
    result = normalize(make_envelope(SourceKind.USER, b"{}"), Ruleset())

    assert rejected_fields(result) == {"action", "dedup_key", "user"}
    body = b'{"action": "acknowledge", "dedup_key": "k", "user": "usr_1"}'
    accepted = normalize(make_envelope(SourceKind.USER, body), Ruleset())
    assert isinstance(accepted, Normalized) and accepted.signals[0].source == "user:usr_1"


@pytest.mark.parametrize("note", ["", "rolled back", "ça a redémarré"])
def test_the_body_the_api_writes_for_a_human_action_is_the_one_the_normalizer_reads(
    make_envelope, note
):
    """The user-action format has one definition: what ``user_action_body`` writes, normalized,
    gives the action, the key, the user and the note back."""
    body = user.user_action_body("resolve", dedup_key="db-down", user="usr_7", note=note)
    [signal] = only_signals(normalize(make_envelope(SourceKind.USER, body), Ruleset()))

    assert (signal.action.value, signal.dedup_key, signal.source) == (
        "resolve",
        "db-down",
        "user:usr_7",
    )
    assert json.loads(signal.details) == {"note": note}


def test_a_note_longer_than_the_user_action_limit_is_refused_naming_the_note(make_envelope):
    body = user.user_action_body(
        "acknowledge", dedup_key="k", user="u", note="x" * (user.MAX_NOTE_CHARS + 1)
    )
    assert rejected_fields(normalize(make_envelope(SourceKind.USER, body), Ruleset())) == {"note"}
