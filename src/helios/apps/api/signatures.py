"""HMAC-SHA256 signatures of the generic source.

The sender signs ``f"{timestamp}.".encode() + body`` with the integration's signing secret and
sends ``X-Helios-Signature: t=<unix seconds>,v1=<hex>``. Several ``v1`` entries may be given
(one per secret while the sender itself rotates). A signature is valid when one ``v1`` matches
the HMAC under one of the integration's valid secrets (two during a rotation) and ``t`` is within
the tolerance of the API's clock. Replays of a valid signature are refused by the caller, which
remembers each accepted signature for twice the tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from helios.apps.api.errors import Unauthorized

SIGNATURE_HEADER = "x-helios-signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` hex signature of ``body`` at ``timestamp`` (senders and tests use it)."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(
    header: str | None,
    body: bytes,
    *,
    secrets: Sequence[str],
    now_s: int,
    tolerance_s: int,
) -> str:
    """Check a signature header; return the ``v1`` value that matched.

    Raises:
        Unauthorized: the header is missing or malformed, its timestamp is outside the
            tolerance, or no ``v1`` matches a valid secret.
    """
    if not header:
        raise Unauthorized("missing X-Helios-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise Unauthorized("malformed signature timestamp") from None
        elif name == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise Unauthorized("malformed X-Helios-Signature header (want t=<unix>,v1=<hex>)")
    if abs(now_s - timestamp) > tolerance_s:
        raise Unauthorized(f"signature timestamp outside the {tolerance_s} s tolerance")
    for secret in secrets:
        expected = sign(secret, timestamp, body)
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return candidate
    raise Unauthorized("signature does not match")
