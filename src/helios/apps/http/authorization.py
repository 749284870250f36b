"""The ``Authorization: Bearer <credential>`` header, read alike by both HTTP APIs.

The ingestion API takes an integration key in it, the people's API a token or a session.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The credential of an ``Authorization: Bearer`` header (scheme case-insensitive), or
    None when the header is missing, names another scheme or carries nothing."""
    scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None
