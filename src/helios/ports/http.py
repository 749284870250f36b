"""The HTTP fetcher port: GET one URL over HTTPS, or say why there was no answer.

Used where Helios itself must call out, e.g. to visit the ``SubscribeURL`` of an SNS
subscription confirmation. The caller checks the URL before asking (scheme, host); a fetcher
verifies the server's certificate against the CAs it trusts, follows no redirect and reads a
bounded answer. What an answer means (success, refused, try later) is the caller's business:
any status is returned, only the absence of an answer is an error.
"""

from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen(kw_only=True)
class HttpAnswer:
    """What the server answered: its status and (at most ``max_bytes`` of) its body."""

    status: int
    body: bytes


class FetchError(Exception):
    """Base of the errors every fetcher adapter raises instead of its driver's errors."""


class FetchUnavailable(FetchError):
    """No answer: the host could not be resolved or reached, TLS failed (an untrusted or
    mismatched certificate included), the time ran out, or the answer was too large. It may
    pass: retry later."""


class HttpFetcher(Protocol):
    """Fetches URLs over HTTPS."""

    async def get(self, url: str, *, timeout_s: float, max_bytes: int) -> HttpAnswer:
        """GET ``url`` (no redirect followed) and return the answer, whatever its status.

        Raises:
            FetchUnavailable: there was no answer within ``timeout_s``, or it was longer than
                ``max_bytes``.
        """
        ...
