"""The ingestion API's settings, read from the environment.

| variable | default | meaning |
| --- | --- | --- |
| HELIOS_API_MAX_BODY_BYTES | 524288 | larger bodies get 413 (Content-Length, then counted) |
| HELIOS_API_RATE_PER_INTEGRATION | 50 | requests per second one integration may sustain (GCRA) |
| HELIOS_API_BURST_PER_INTEGRATION | 200 | requests one idle integration may send at once |
| HELIOS_API_RATE_PER_TENANT | 200 | requests per second a tenant's integrations may sustain |
| HELIOS_API_BURST_PER_TENANT | 800 | the tenant's burst |
| HELIOS_API_DEDUP_WINDOW_S | 10 | identical bodies (no Idempotency-Key) within it: accepted once |
| HELIOS_API_SIGNATURE_TOLERANCE_S | 300 | how old or how far ahead a signature's time may be |
| HELIOS_API_SNS_TRUST_FILE | (system CAs) | PEM file of the CAs SNS signing certificates chain to |
| HELIOS_API_SNS_MAX_AGE_S | 3900 | how old an SNS message may be (its replay window) |
| HELIOS_API_KEY_CACHE_S | 30 | how long a tenant's integrations are cached by an API process |
| HELIOS_API_KEY_MISS_REFRESH_S | 0.25 | an unknown key re-reads the key index at most this often |
| HELIOS_API_SHUTDOWN_GRACE_S | 10 | on SIGTERM, how long in-flight requests may take to finish |
| HELIOS_API_BODY_TIMEOUT_S | 10 | how long a request body may take to arrive, in all; then 408 |
| HELIOS_API_KEEP_ALIVE_S | 5 | how long an idle keep-alive connection is kept open |
| HELIOS_API_TRUSTED_PROXIES | 127.0.0.1 | proxies (IPs, CIDRs) trusted for X-Forwarded-For |
| HELIOS_API_SERVER | granian | the HTTP server of ``helios up``'s API: ``granian`` or ``uvicorn`` |
| HELIOS_API_LOOP | uvloop | the event loop of ``helios up``'s API: ``uvloop`` or ``asyncio`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from helios.apps.settings import InvalidSetting
from helios.domain.normalize.common import MAX_BODY_BYTES

SNS_MAX_AGE_S = 3900
"""SNS stops retrying an HTTP(S) delivery after at most 3,600 s (a hard limit of its delivery
policies; the default policy gives up after about a minute), plus 5 minutes for clock skew
between AWS and the API and for the last attempt's own latency."""


@attrs.frozen(kw_only=True)
class ApiConfig:
    max_body_bytes: int = MAX_BODY_BYTES
    rate_per_integration: float = 50.0
    burst_per_integration: int = 200
    rate_per_tenant: float = 200.0
    burst_per_tenant: int = 800
    dedup_window_s: float = 10.0
    signature_tolerance_s: int = 300
    sns_trust_file: Path | None = None
    sns_max_age_s: int = SNS_MAX_AGE_S
    key_cache_s: float = 30.0
    key_miss_refresh_s: float = 0.25
    shutdown_grace_s: float = 10.0
    body_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    trusted_proxies: str = "127.0.0.1"
    """Peers trusted to name the client in X-Forwarded-For: the load balancer's addresses.
    The client address keys login lockouts, so behind a proxy it must be the real client's."""
    server: str = "granian"
    """The HTTP server ``helios up`` runs its API on (``helios api`` runs uvicorn): granian
    answers the ingestion endpoints about twice as fast (bench/servers.py)."""
    event_loop: str = "uvloop"
    """The event loop ``helios up``'s API process runs on: uvloop (libuv, in C) spends less of
    the one core on each request's awaits and wake-ups than asyncio's own loop
    (``bench/accept_cpu.py``); ``asyncio`` where uvloop is not installed (Windows)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiConfig:
        """Every API setting from the environment (see the module's table).

        Raises:
            InvalidSetting: a setting is not a number, or not positive (the message names it).
        """
        values = os.environ if env is None else env
        trust = values.get("HELIOS_API_SNS_TRUST_FILE") or None
        return cls(
            max_body_bytes=int(_positive(values, "HELIOS_API_MAX_BODY_BYTES", MAX_BODY_BYTES)),
            rate_per_integration=_positive(values, "HELIOS_API_RATE_PER_INTEGRATION", 50.0),
            burst_per_integration=int(_positive(values, "HELIOS_API_BURST_PER_INTEGRATION", 200)),
            rate_per_tenant=_positive(values, "HELIOS_API_RATE_PER_TENANT", 200.0),
            burst_per_tenant=int(_positive(values, "HELIOS_API_BURST_PER_TENANT", 800)),
            dedup_window_s=_positive(values, "HELIOS_API_DEDUP_WINDOW_S", 10.0),
            signature_tolerance_s=int(_positive(values, "HELIOS_API_SIGNATURE_TOLERANCE_S", 300)),
            sns_trust_file=Path(trust) if trust else None,
            sns_max_age_s=int(_positive(values, "HELIOS_API_SNS_MAX_AGE_S", SNS_MAX_AGE_S)),
            key_cache_s=_positive(values, "HELIOS_API_KEY_CACHE_S", 30.0),
            key_miss_refresh_s=_positive(values, "HELIOS_API_KEY_MISS_REFRESH_S", 0.25),
            shutdown_grace_s=_positive(values, "HELIOS_API_SHUTDOWN_GRACE_S", 10.0),
            body_timeout_s=_positive(values, "HELIOS_API_BODY_TIMEOUT_S", 10.0),
            keep_alive_s=_positive(values, "HELIOS_API_KEEP_ALIVE_S", 5.0),
            trusted_proxies=values.get("HELIOS_API_TRUSTED_PROXIES") or "127.0.0.1",
            server=_server(values),
            event_loop=_choice(values, "HELIOS_API_LOOP", LOOPS),
        )


def _server(values: Mapping[str, str]) -> str:
    return _choice(values, "HELIOS_API_SERVER", SERVERS)


def _choice(values: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The setting ``name``, one of ``choices`` (the first when unset).

    Raises:
        InvalidSetting: another value, named with the choices.
    """
    value = values.get(name) or choices[0]
    if value not in choices:
        raise InvalidSetting(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


SERVERS = ("granian", "uvicorn")
LOOPS = ("uvloop", "asyncio")


def _positive(values: Mapping[str, str], name: str, default: float) -> float:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise InvalidSetting(f"{name} must be a number, not {raw!r}") from None
    if not number > 0:
        raise InvalidSetting(f"{name} must be positive, not {raw!r}")
    return number
