"""Verifying Amazon SNS message signatures (CloudWatch alarms arrive through SNS).

SNS signs each message with the key of an X.509 certificate it publishes at ``SigningCertURL``.
A message is authentic when:

1. ``SigningCertURL`` is ``https://sns.<region>.amazonaws.com/….pem`` and ``<region>`` is the
   region of the ``TopicArn`` (anyone can host a certificate elsewhere);
2. the certificate chains to a trusted CA (the system's, or ``HELIOS_API_SNS_TRUST_FILE``) and
   is valid now for the URL's host (or ``sns.amazonaws.com``);
3. the signature (``SignatureVersion`` 1: SHA1withRSA, 2: SHA256withRSA) verifies over the
   canonical string SNS signs: selected fields as ``name\\nvalue\\n`` in a fixed order.

Certificates are fetched through an injectable ``CertFetcher`` and cached per URL for an hour.

A signed message stays valid for anyone who saw it, and unsigned fields can be added without
breaking its signature. So the API also refuses a message whose ``Timestamp`` is outside a
replay window (``check_fresh``), and remembers each accepted ``MessageId`` for as long as the
message could pass that check (``replay_window_ms``): a resend within it is a duplicate.
"""

from __future__ import annotations

import base64
import datetime
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from helios.apps.http.errors import InvalidBody, Unauthorized, Unavailable
from helios.domain.normalize import FieldError
from helios.domain.timestamps import TimestampError, parse_rfc3339

CertFetcher = Callable[[str], Awaitable[bytes]]
"""Returns the PEM bytes at a certificate URL; raises ``OSError`` when it cannot."""

_CERT_HOST = re.compile(r"sns\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_MAX_CERT_BYTES = 64 * 1024
_CACHE_S = 3600.0
_CACHE_SIZE = 64
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


async def fetch_certificate(url: str) -> bytes:
    """Download a signing certificate (the production fetcher).

    Raises:
        OSError: the certificate could not be downloaded.
    """
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        raise OSError(f"fetching {url}: {error}") from error
    if response.status_code != 200 or len(response.content) > _MAX_CERT_BYTES:
        raise OSError(f"fetching {url}: HTTP {response.status_code}")
    return response.content


def system_trust() -> list[x509.Certificate]:
    """The CAs of the system's default bundle."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return x509.load_pem_x509_certificates(Path(candidate).read_bytes())
    return []


def check_fresh(message: Mapping[str, Any], *, now_ms: int, max_age_s: int, ahead_s: int) -> None:
    """Refuse a message published more than ``max_age_s`` ago or ``ahead_s`` in the future.

    ``Timestamp`` is signed, so a resent message cannot be made younger.

    Raises:
        InvalidBody: ``Timestamp`` is not an RFC 3339 time.
        Unauthorized: ``Timestamp`` is outside the window (a stale or replayed message).
    """
    raw = str(message.get("Timestamp", ""))
    try:
        published = parse_rfc3339(raw)
    except TimestampError:
        raise InvalidBody(
            "The SNS message has no valid Timestamp",
            errors=(FieldError(field="Timestamp", message="is not an RFC 3339 time"),),
        ) from None
    age_ms = now_ms - published
    if age_ms > max_age_s * 1000:
        problem = f"is {_seconds(age_ms)} s old; messages older than {max_age_s} s are refused"
    elif -age_ms > ahead_s * 1000:
        problem = f"is {_seconds(-age_ms)} s ahead of the API's clock (at most {ahead_s} s allowed)"
    else:
        return
    raise Unauthorized(
        # The text as sent: a time beyond the years 1 to 9999 cannot be formatted again.
        f"the SNS message's Timestamp {raw[:40]!r} is outside the replay window",
        errors=(FieldError(field="Timestamp", message=problem),),
    )


def _seconds(ms: int) -> int:
    # Rounded up: a message 3,900.2 s old is said to be 3,901 s old, not 3,900.
    return -(-ms // 1000)


def replay_window_ms(*, max_age_s: int, ahead_s: int) -> int:
    """How long a ``MessageId`` must be remembered: as long as its message passes
    ``check_fresh`` (from ``ahead_s`` before its ``Timestamp`` to ``max_age_s`` after)."""
    return (max_age_s + ahead_s) * 1000


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs for this message's type."""
    fields = _NOTIFICATION_FIELDS if message.get("Type") == "Notification" else _CONFIRMATION_FIELDS
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue  # only Subject is optional; shapes.check_source required the rest
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


class SnsVerifier:
    """Checks SNS signatures against certificates that chain to ``trust``."""

    def __init__(
        self,
        *,
        fetch: CertFetcher = fetch_certificate,
        trust: Sequence[x509.Certificate] | Callable[[], Sequence[x509.Certificate]] = (
            system_trust
        ),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._trust_source = trust
        self._store: Store | None = None
        self._clock = clock
        self._keys: dict[str, tuple[rsa.RSAPublicKey, float]] = {}

    async def verify(self, message: Mapping[str, Any]) -> None:
        """Accept an authentic SNS message.

        Raises:
            Unauthorized: the certificate URL, the certificate or the signature is not valid.
            Unavailable: the certificate could not be fetched (SNS will retry).
        """
        url = str(message.get("SigningCertURL", ""))
        self._check_url(url, str(message.get("TopicArn", "")))
        algorithm = _HASHES.get(str(message.get("SignatureVersion", "")))
        if algorithm is None:
            raise Unauthorized("unsupported SNS SignatureVersion")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except ValueError:
            raise Unauthorized("SNS Signature is not base64") from None
        key = await self._public_key(url)
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Unauthorized("SNS signature does not verify") from None

    @staticmethod
    def _check_url(url: str, topic_arn: str) -> None:
        parts = urlsplit(url)
        match = _CERT_HOST.fullmatch(parts.hostname or "")
        if (
            parts.scheme != "https"
            or match is None
            or parts.port is not None
            or parts.username is not None
            or not parts.path.endswith(".pem")
        ):
            raise Unauthorized("SigningCertURL is not an SNS certificate URL")
        arn = topic_arn.split(":")
        if len(arn) < 6 or arn[3] != match.group(1):
            raise Unauthorized("SigningCertURL region does not match the TopicArn")

    async def _public_key(self, url: str) -> rsa.RSAPublicKey:
        now = self._clock()
        cached = self._keys.get(url)
        if cached is not None and now - cached[1] < _CACHE_S:
            return cached[0]
        try:
            pem = await self._fetch(url)
        except OSError as error:
            raise Unavailable(
                f"cannot fetch the SNS certificate: {error}", retry_after_s=5
            ) from None
        try:
            chain = x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise Unauthorized("the SNS signing certificate is not PEM") from None
        leaf, intermediates = chain[0], chain[1:]
        host = urlsplit(url).hostname or ""
        self._check_chain(leaf, intermediates, host, now)
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unauthorized("the SNS signing certificate has no RSA key")
        if len(self._keys) >= _CACHE_SIZE:
            self._keys.pop(next(iter(self._keys)))
        self._keys[url] = (key, now)
        return key

    def _check_chain(
        self,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        host: str,
        now: float,
    ) -> None:
        if self._store is None:
            trust = self._trust_source() if callable(self._trust_source) else self._trust_source
            if not trust:
                raise Unavailable("no trusted CA certificates for SNS", retry_after_s=60)
            self._store = Store(list(trust))
        moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
        builder = PolicyBuilder().store(self._store).time(moment)
        for name in dict.fromkeys((host, "sns.amazonaws.com")):
            verifier = builder.build_server_verifier(x509.DNSName(name))
            try:
                verifier.verify(leaf, intermediates)
                return
            except VerificationError:
                continue
        raise Unauthorized("the SNS signing certificate is not trusted for its host")
