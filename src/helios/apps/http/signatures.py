"""HMAC-SHA256 signatures of the generic source.

The sender signs ``f"{timestamp}.".encode() + body`` with the integration's signing secret and
sends ``X-Helios-Signature: t=<unix seconds>,v1=<hex>``. Several ``v1`` entries may be given
(one per secret while the sender itself rotates). A signature is valid when one ``v1`` matches
the HMAC under one of the integration's valid secrets (two during a rotation) and ``t`` is within
the tolerance of the API's clock. Replays of a valid signature are refused by the caller, which
remembers each accepted signature for twice the tolerance.

A header that cannot hold a signature at all (not that shape, or not ASCII: header values
arrive as Latin-1 text) is a malformed request (400); a missing, stale or wrong signature is
an authentication failure (401).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from helios.apps.http.errors import InvalidHeader, Unauthorized
from helios.domain.normalize import FieldError

SIGNATURE_HEADER = "x-helios-signature"
_HMAC_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_TIMESTAMP_DIGITS = 12


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
        Unauthorized: the header is missing, its timestamp is outside the tolerance, or no
            ``v1`` matches a valid secret.
        InvalidHeader: the header is not ``t=<unix seconds>,v1=<64 hex digits>`` (several
            ``v1`` allowed), so it cannot hold a signature at all.
    """
    if not header:
        raise Unauthorized("missing X-Helios-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            # ASCII digits only: int() would also take "+1", "1_0" and other scripts' digits.
            if not (value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS):
                raise _malformed("t must be a time in unix seconds")
            timestamp = int(value)
        elif name == "v1":
            candidate = value.lower()
            if _HMAC_SHA256_HEX.fullmatch(candidate) is None:
                raise _malformed("each v1 must be an HMAC-SHA256 in 64 hex digits")
            candidates.append(candidate)
    if timestamp is None or not candidates:
        raise _malformed("must be t=<unix seconds>,v1=<hex>")
    if abs(now_s - timestamp) > tolerance_s:
        raise Unauthorized(f"signature timestamp outside the {tolerance_s} s tolerance")
    for secret in secrets:
        expected = sign(secret, timestamp, body)
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return candidate
    raise Unauthorized("signature does not match")


def _malformed(message: str) -> InvalidHeader:
    return InvalidHeader(
        "malformed X-Helios-Signature header",
        errors=(FieldError(field="X-Helios-Signature", message=message),),
    )
