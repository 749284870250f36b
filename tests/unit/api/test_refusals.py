"""The admission's refusals as the API answers them: status, problem type, detail, headers."""

from __future__ import annotations

import msgspec
import pytest

from helios.apps.application import admission
from helios.apps.http.errors import as_api_error, pagerduty_response, problem_response


@pytest.mark.parametrize(
    ("refusal", "status", "slug", "headers"),
    [
        (
            admission.NotAuthenticated("unknown or expired integration key"),
            401,
            "unauthorized",
            {"WWW-Authenticate": 'Bearer realm="helios"'},
        ),
        (
            admission.KeyOfAnotherKind("belongs to a grafana integration"),
            403,
            "forbidden",
            {},
        ),
        (admission.OtherTenantsKey("this key belongs to another tenant"), 403, "forbidden", {}),
        (
            admission.RateExceeded("tenant rate exceeded", retry_after_s=3),
            429,
            "rate-limited",
            {"Retry-After": "3"},
        ),
        (
            admission.IdempotencyKeyReused("used with another body"),
            422,
            "idempotency-key-reused",
            {},
        ),
        (admission.RequestInFlight("retry once answered"), 409, "request-in-flight", {}),
        (
            admission.CannotAdmitNow("the ingest queue cannot take events now", retry_after_s=0),
            503,
            "unavailable",
            {"Retry-After": "1"},
        ),
    ],
)
def test_each_refusal_is_answered_with_its_status_problem_type_and_headers(
    refusal: admission.Refused, status: int, slug: str, headers: dict[str, str]
) -> None:
    """The problem document names the refusal's type and keeps its detail for the sender."""
    response = problem_response(as_api_error(refusal))

    assert response.status_code == status
    document = msgspec.json.decode(response.content)
    assert document["type"] == f"urn:helios:problem:{slug}"
    assert document["detail"] == refusal.detail
    assert {k: v for k, v in response.headers.items() if k in headers} == headers


def test_a_key_of_another_kind_says_which_kind_it_is() -> None:
    """The detail reads "this key <reason>", as before the refusal left the API layer."""
    error = as_api_error(admission.KeyOfAnotherKind("belongs to a grafana integration"))
    assert error.detail == "this key belongs to a grafana integration"


def test_a_pagerduty_sender_over_its_rate_gets_pagerduty_s_throttle_answer() -> None:
    """On the PagerDuty endpoints the same refusal takes PagerDuty's shape and Retry-After."""
    response = pagerduty_response(as_api_error(admission.RateExceeded("x", retry_after_s=7)))
    assert response.status_code == 429
    assert msgspec.json.decode(response.content)["status"] == "throttle event"
    assert response.headers["Retry-After"] == "7"
