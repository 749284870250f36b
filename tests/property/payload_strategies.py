"""Hypothesis strategies for request bodies of every source, valid and invalid.

Every field is drawn from values that pass, including values right at a normalizer limit (64
labels, 1,024-character values, 255-character keys, the years 1 and 9999 …); a *faulty* body
also draws, now and then, a value just past a limit or of the wrong type. Half the bodies are
clean, so both sides of the edge check are well covered. ``normalization_rulesets`` varies
every ruleset field that normalization reads.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from domain_strategies import rulesets, severities
from hypothesis import strategies as st

from helios.domain.ruleset import DEFAULT_SEVERITY_MAP, CloudWatchInsufficientData
from helios.domain.values import SourceKind

TOPIC = "arn:aws:sns:eu-west-1:210987654321:helios-cloudwatch-alarms"
KEPT_HEADER_NAMES = ("user-agent", "x-amz-sns-message-type", "idempotency-key")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_WRONG_TYPES = st.sampled_from([None, 7, 1.5, True, [], {}, ["x"]])
_WORDS = st.text(min_size=1, max_size=12)
_GOOD_TIMES = st.sampled_from(
    [
        "2026-03-14T09:21:30Z",
        "2026-03-14T09:21:30.123456789+01:00",
        "2026-03-14T09:22:10.403+0000",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
    ]
) | st.datetimes().map(lambda moment: moment.isoformat() + "Z")
_BAD_TIMES = st.sampled_from(
    [
        "99999-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-03-14T25:00:00Z",
        "2026-03-14T09:21:30+24:00",
        "yesterday",
    ]
)
_GOOD_LABEL_NAMES = st.sampled_from(
    ["alertname", "service", "instance", "severity", "job", "component", "_x", "a.b-c", "a" * 128]
)
_BAD_LABEL_NAMES = st.sampled_from(["", "9lives", "bad\x00name", "sp ace", "é", "a" * 129])


@attrs.frozen
class _Fields:
    """Leaf strategies; ``faulty`` ones sometimes draw a value the normalizer refuses."""

    faulty: bool

    def pick(
        self, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = _WRONG_TYPES
    ) -> st.SearchStrategy[Any]:
        if not self.faulty:
            return good
        # One draw in eight is bad: a faulty body usually has one or two bad fields.
        return st.integers(0, 7).flatmap(lambda roll: bad if roll == 0 else good)

    def text(self) -> st.SearchStrategy[Any]:
        return self.pick(
            _WORDS | st.sampled_from(["", "x" * 1024]), st.just("x" * 1025) | _WRONG_TYPES
        )

    def summary(self) -> st.SearchStrategy[Any]:
        """A summary: a long one is truncated (noted), never refused."""
        return self.pick(_WORDS | st.just("x" * 5000))

    def time(self) -> st.SearchStrategy[Any]:
        return self.pick(_GOOD_TIMES, _BAD_TIMES | _WRONG_TYPES)

    def choice(self, good: list[str], bad: list[str]) -> st.SearchStrategy[Any]:
        return self.pick(st.sampled_from(good), st.sampled_from(bad) | _WRONG_TYPES)

    def key(self) -> st.SearchStrategy[Any]:
        return self.pick(_WORDS | st.just("k" * 255), st.just("k" * 256) | _WRONG_TYPES)

    def labels(self) -> st.SearchStrategy[Any]:
        values = self.pick(
            st.sampled_from(["critical", "page", "warning", "db", "v" * 1024]) | _WORDS,
            st.just("v" * 1025) | _WRONG_TYPES,
        )
        names = self.pick(_GOOD_LABEL_NAMES, _BAD_LABEL_NAMES)
        many = self.pick(st.integers(60, 64), st.integers(65, 70)).map(
            lambda n: {f"l{i}": "v" for i in range(n)}
        )
        return st.one_of(st.dictionaries(names, values, max_size=5), many).flatmap(
            lambda found: self.pick(st.just(found))
        )

    def links(self) -> st.SearchStrategy[Any]:
        link = st.fixed_dictionaries(
            {"href": self.pick(_WORDS)}, optional={"text": self.text()}
        ).flatmap(lambda found: self.pick(st.just(found), st.just({"text": "no href"})))
        return st.lists(link, max_size=2).flatmap(lambda found: self.pick(st.just(found)))

    def mapping(self, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        found = st.fixed_dictionaries({}, optional=fields)
        return found.flatmap(lambda value: self.pick(st.just(value)))


def _webhook(f: _Fields, source: SourceKind) -> st.SearchStrategy[Any]:
    extra: dict[str, st.SearchStrategy[Any]] = {}
    if source is SourceKind.GRAFANA:
        extra = {"dashboardURL": f.text(), "panelURL": f.text(), "values": json_values}
    alert = st.fixed_dictionaries(
        {"status": f.choice(["firing", "resolved"], ["burning"]), "labels": f.labels()},
        optional={
            "annotations": f.mapping(summary=f.summary(), description=f.summary()),
            "startsAt": f.time(),
            "endsAt": f.time(),
            "generatorURL": f.text(),
            "fingerprint": f.key(),
            "extra": json_values,
            **extra,
        },
    )
    return st.fixed_dictionaries(
        {"alerts": st.lists(f.pick(alert), max_size=3)},
        optional={
            "version": st.just("4"),
            "status": f.choice(["firing", "resolved"], ["burning"]),
            "externalURL": f.text(),
            "groupKey": f.text(),
            "truncatedAlerts": json_values,
            "commonLabels": f.labels(),
        },
    )


def _pagerduty(f: _Fields) -> st.SearchStrategy[Any]:
    payload = st.fixed_dictionaries(
        {
            "summary": f.summary(),
            "source": f.pick(_WORDS, st.just("x" * 1025) | _WRONG_TYPES),
            "severity": f.choice(["critical", "error", "warning", "info"], ["page"]),
        },
        optional={
            "timestamp": f.time(),
            "component": f.text(),
            "group": f.text(),
            "class": f.text(),
            "custom_details": json_values,
        },
    )
    return st.fixed_dictionaries(
        {
            "routing_key": f.pick(st.just("R" * 32)),
            "event_action": f.choice(["trigger", "acknowledge", "resolve"], ["snooze"]),
            "payload": f.pick(payload),
        },
        optional={
            "dedup_key": f.key(),
            "links": f.links(),
            "images": f.pick(st.lists(json_values, max_size=2)),
            "client": f.text(),
            "client_url": f.text(),
        },
    )


def _pagerduty_change(f: _Fields) -> st.SearchStrategy[Any]:
    payload = st.fixed_dictionaries(
        {"summary": f.summary()},
        optional={
            "timestamp": f.time(),
            "source": f.text(),
            "custom_details": json_values,
        },
    )
    return st.fixed_dictionaries(
        {"routing_key": f.pick(st.just("R" * 32)), "payload": f.pick(payload)},
        optional={"links": f.links(), "images": f.pick(st.lists(json_values, max_size=2))},
    )


def _generic(f: _Fields) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"action": f.choice(["trigger", "acknowledge", "resolve"], ["snooze"])},
        optional={
            "dedup_key": f.key(),
            "summary": f.summary(),
            "severity": f.text(),
            "occurred_at": f.time(),
            "service": f.text(),
            "component": f.text(),
            "group": f.text(),
            "class": f.text(),
            "labels": f.labels(),
            "links": f.links(),
            "details": f.pick(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
            "unknown": json_values,
        },
    )


def _alarm(f: _Fields) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "AlarmName": f.pick(_WORDS | st.just("x" * 1024), st.just("x" * 1025) | _WRONG_TYPES),
            "NewStateValue": f.choice(["ALARM", "OK", "INSUFFICIENT_DATA"], ["WAT"]),
        },
        optional={
            "NewStateReason": f.text(),
            "StateChangeTime": f.time(),
            "AlarmArn": f.pick(_WORDS | st.just("arn:" + "a" * 300)),
            "AWSAccountId": f.text(),
            "Region": f.text(),
            "Trigger": f.mapping(Namespace=f.text(), MetricName=f.text()),
            "OldStateValue": json_values,
        },
    )


@st.composite
def _sns_message(draw: st.DrawFn, f: _Fields) -> Any:
    if f.faulty and draw(st.integers(0, 9)) == 0:
        return draw(_alarm(f))  # raw message delivery: the alarm without its SNS envelope
    kind = draw(
        f.choice(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"], ["X"])
    )
    message: dict[str, Any] = {
        "Type": kind,
        "MessageId": draw(f.pick(_WORDS)),
        "TopicArn": TOPIC,
        "Timestamp": draw(f.time()),
        "SignatureVersion": "2",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem",
    }
    if kind == "Notification":
        alarm = json.dumps(draw(_alarm(f)))
        message["Message"] = draw(f.pick(st.just(alarm), _WORDS | _WRONG_TYPES))
        if draw(st.booleans()):
            message["Subject"] = draw(f.text())
    else:
        words = f.pick(_WORDS, st.just("") | _WRONG_TYPES)
        message.update(Message=draw(words), SubscribeURL=draw(words), Token=draw(words))
    return message


def documents(source: SourceKind, *, faulty: bool) -> st.SearchStrategy[Any]:
    """JSON documents as ``source`` sends them; ``faulty`` ones may break a field or two."""
    fields = _Fields(faulty)
    match source:
        case SourceKind.PAGERDUTY:
            return _pagerduty(fields)
        case SourceKind.PAGERDUTY_CHANGE:
            return _pagerduty_change(fields)
        case SourceKind.ALERTMANAGER | SourceKind.GRAFANA:
            return _webhook(fields, source)
        case SourceKind.CLOUDWATCH:
            return _sns_message(fields)
        case SourceKind.GENERIC:
            return _generic(fields)
        case SourceKind.USER:
            raise ValueError("user actions do not come through the ingestion endpoints")


def bodies(source: SourceKind) -> st.SearchStrategy[bytes]:
    """Request bodies for ``source``: clean or faulty documents, now and then not JSON."""
    encoded = st.builds(
        lambda document, ascii_only: json.dumps(document, ensure_ascii=ascii_only).encode(),
        st.booleans().flatmap(lambda faulty: documents(source, faulty=faulty)),
        st.booleans(),
    )
    return st.integers(0, 19).flatmap(lambda roll: st.binary(max_size=40) if roll == 0 else encoded)


headers = st.lists(
    st.tuples(st.sampled_from(KEPT_HEADER_NAMES), st.text(max_size=20)), max_size=3
).map(tuple)
received_ats = st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000)
"""Times an API clock can read: the years 2000 to 2100."""

normalization_rulesets = st.builds(
    lambda base, key_labels, severity_map, default, skew, insufficient: attrs.evolve(
        base,
        key_labels=key_labels,
        severity_map=severity_map,
        default_severity=default,
        skew_tolerance_ms=skew,
        cloudwatch_insufficient_data=insufficient,
    ),
    rulesets,
    st.lists(
        st.sampled_from(["alertname", "service", "instance", "job"]), min_size=1, max_size=3
    ).map(tuple),
    st.lists(st.sampled_from(DEFAULT_SEVERITY_MAP), max_size=6).map(tuple),
    severities,
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(list(CloudWatchInsufficientData)),
)
"""Tenant rulesets: every field that normalization reads varies (and some scoring ones)."""
