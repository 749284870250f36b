"""The ``HttpFetcher`` port over aiohttp (already a dependency, through aiobotocore).

The certificate is verified against ``ssl_context`` (the system's CAs by default) for the
URL's host name. ``addresses`` pins host names to addresses, like curl's ``--connect-to``:
the URL, the TLS server name and the certificate check keep the real name, only the TCP
connection goes elsewhere. Tests use it to reach a local HTTPS server that plays a remote one.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from helios.ports.http import FetchUnavailable, HttpAnswer


class HttpsFetcher:
    """``HttpFetcher`` with one short-lived session per request (calls are rare)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        addresses: Mapping[str, tuple[str, int]] | None = None,
        user_agent: str = "Helios",
    ) -> None:
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._addresses = dict(addresses or {})
        self._user_agent = user_agent

    async def get(self, url: str, *, timeout_s: float, max_bytes: int) -> HttpAnswer:
        """GET ``url``; any status is an answer.

        Raises:
            FetchUnavailable: no answer in time (DNS, connection, TLS, timeout), or one longer
                than ``max_bytes``.
        """
        resolver = _Pinned(self._addresses) if self._addresses else None
        connector = aiohttp.TCPConnector(ssl=self._ssl, resolver=resolver, force_close=True)
        try:
            async with (
                aiohttp.ClientSession(
                    connector=connector,
                    timeout=aiohttp.ClientTimeout(total=timeout_s),
                    headers={"User-Agent": self._user_agent},
                ) as session,
                session.get(url, allow_redirects=False) as response,
            ):
                body = await response.content.read(max_bytes + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            # ValueError: a URL aiohttp cannot use. The caller checked it; say what went wrong.
            raise FetchUnavailable(f"GET {_where(url)}: {type(error).__name__}: {error}") from None
        if len(body) > max_bytes:
            raise FetchUnavailable(f"GET {_where(url)}: the answer exceeds {max_bytes} bytes")
        return HttpAnswer(status=status, body=body)


def _where(url: str) -> str:
    """The URL without its query (which may hold a secret token), for messages and logs."""
    return url.split("?", 1)[0]


class _Pinned(AbstractResolver):
    """Resolves only the pinned host names, to their pinned address and port."""

    def __init__(self, addresses: Mapping[str, tuple[str, int]]) -> None:
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        pinned = self._addresses.get(host)
        if pinned is None:
            raise OSError(f"{host} is not among the pinned host names")
        address, pinned_port = pinned
        return [
            {
                "hostname": host,
                "host": address,
                "port": pinned_port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None
