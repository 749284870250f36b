"""Signature, shape and metrics helpers of the API, without HTTP."""

from __future__ import annotations

import pytest

from helios.apps.http import shapes, signatures
from helios.apps.http.config import ApiConfig
from helios.apps.http.errors import InvalidBody, InvalidHeader, Unauthorized
from helios.apps.http.middleware import route_label
from helios.apps.observability import Metrics
from helios.domain.values import SourceKind

SECRET = "whsec_0123456789abcdef"


def test_a_signature_verifies_with_any_valid_secret_and_returns_the_matching_value() -> None:
    """Current or previous secret; several v1 entries allowed."""
    body = b'{"action":"trigger"}'
    good = signatures.sign(SECRET, 100, body)
    header = f"t=100,v1={'0' * 64},v1={good}"
    assert signatures.verify(header, body, secrets=("other", SECRET), now_s=100, tolerance_s=300)
    assert signatures.verify(header, body, secrets=(SECRET,), now_s=400, tolerance_s=300) == good


@pytest.mark.parametrize(
    ("header", "now_s"),
    [
        (None, 100),
        (f"t=100,v1={signatures.sign(SECRET, 100, b'{}')}", 401),
        (f"t=100,v1={signatures.sign(SECRET, 100, b'other')}", 100),
    ],
)
def test_a_missing_stale_or_wrong_signature_is_refused(header: str | None, now_s: int) -> None:
    """Each is a 401, never an exception of another kind."""
    with pytest.raises(Unauthorized):
        signatures.verify(header, b"{}", secrets=(SECRET,), now_s=now_s, tolerance_s=300)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1=" + "0" * 64,
        "t=100",
        "t=soon,v1=" + "0" * 64,
        "t=+100,v1=" + "0" * 64,
        "t=\u0661\u0660\u0660,v1=" + "0" * 64,
        "t=" + "1" * 5000 + ",v1=" + "0" * 64,
        "t=100,v1=abc",
        "t=100,v1=caf\xe9",
        "t=100,v1=" + "0" * 63 + "\xff",
        "t=100,v1=" + "\u00e9" * 64,
    ],
)
def test_a_header_that_cannot_hold_a_signature_is_a_400_naming_the_header(header: str) -> None:
    """Malformed, or not ASCII (header values arrive as Latin-1 text): never a TypeError."""
    with pytest.raises(InvalidHeader) as refused:
        signatures.verify(header, b"{}", secrets=(SECRET,), now_s=100, tolerance_s=300)
    assert [e.field for e in refused.value.errors] == ["X-Helios-Signature"]


def test_pagerduty_checks_name_every_bad_field() -> None:
    """Like PagerDuty: all problems in one 400."""
    with pytest.raises(InvalidBody) as refused:
        shapes.check_pagerduty(
            {"event_action": "trigger", "payload": {"severity": "x", "timestamp": "yesterday"}}
        )
    fields = [e.field for e in refused.value.errors]
    assert fields == [
        "routing_key",
        "payload.summary",
        "payload.source",
        "payload.severity",
        "payload.timestamp",
    ]


def test_sns_raw_message_delivery_is_refused_with_a_reason() -> None:
    """Without the SNS envelope there is no signature to verify."""
    with pytest.raises(InvalidBody) as refused:
        shapes.check_source(SourceKind.CLOUDWATCH, {"AlarmName": "x"})
    assert "raw message delivery" in refused.value.errors[0].message


def test_route_labels_never_contain_a_key() -> None:
    """Metrics and logs are labelled by template."""
    assert route_label("/v1/ingest/alertmanager/s3cr3t") == "/v1/ingest/alertmanager/{key}"
    assert route_label("/v1/ingest/whatever") == "/v1/ingest/{source}"
    assert route_label("/v2/enqueue") == "/v2/enqueue"


def test_metrics_render_in_the_prometheus_text_format() -> None:
    """Cumulative buckets, sum and count; label values escaped."""
    metrics = Metrics()
    metrics.request_latency.observe(0.003, "POST", "/v2/enqueue", "202")
    metrics.envelopes.inc('we"ird', "accepted")
    text = metrics.render().decode()
    assert (
        'helios_http_request_duration_seconds_bucket{method="POST",route="/v2/enqueue",'
        'status="202",le="0.0025"} 0' in text
    )
    assert 'status="202",le="0.005"} 1' in text
    assert 'helios_http_request_duration_seconds_count{method="POST"' in text
    assert 'helios_envelopes_total{source="we\\"ird",outcome="accepted"} 1' in text


def test_the_connection_settings_are_read_from_the_environment() -> None:
    """Body timeout, keep-alive and trusted proxies; a non-positive timeout is refused."""
    config = ApiConfig.from_env(
        {
            "HELIOS_API_BODY_TIMEOUT_S": "2.5",
            "HELIOS_API_KEEP_ALIVE_S": "75",
            "HELIOS_API_TRUSTED_PROXIES": "10.0.0.0/16,127.0.0.1",
        }
    )
    assert (config.body_timeout_s, config.keep_alive_s) == (2.5, 75.0)
    assert config.trusted_proxies == "10.0.0.0/16,127.0.0.1"
    assert ApiConfig.from_env({}).trusted_proxies == "127.0.0.1"
    with pytest.raises(ValueError, match="HELIOS_API_BODY_TIMEOUT_S"):
        ApiConfig.from_env({"HELIOS_API_BODY_TIMEOUT_S": "0"})


def test_the_server_of_helios_up_is_granian_unless_the_environment_says_uvicorn() -> None:
    """HELIOS_API_SERVER picks the server; anything else is refused, naming the variable."""
    assert ApiConfig.from_env({}).server == "granian"
    assert ApiConfig.from_env({"HELIOS_API_SERVER": "uvicorn"}).server == "uvicorn"
    with pytest.raises(ValueError, match="HELIOS_API_SERVER"):
        ApiConfig.from_env({"HELIOS_API_SERVER": "gunicorn"})
