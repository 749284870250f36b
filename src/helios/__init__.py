"""Helios: one trustworthy, prioritised, auditable record from noisy alert streams.

import helios
with helios.open("sqlite:alerts.db") as hx:
    hx.ingest([hx.envelope(tenant="acme", source="alertmanager", body=payload)])
    print([(a.dedup_key, a.status, a.priority) for a in hx.alerts("acme")])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from helios.apps.library import Helios


def open(url: str) -> Helios:  # the name mirrors the built-in on purpose: helios.open(url)
    """Open Helios over an event store URL: ``memory://``, ``sqlite:path``, ``postgresql://…``.

    Raises:
        ValueError: unsupported URL.
        StoreUnavailable: the store cannot be reached.
    """
    from helios.apps.library import open_store

    return open_store(url)
