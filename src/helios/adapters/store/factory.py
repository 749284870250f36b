"""Open an event store by URL; the composition root chooses the store by configuration.

* ``memory://`` — a fresh in-process store.
* ``sqlite:///abs/path/store.db`` or ``sqlite:relative/store.db`` — the embedded default; tables
  are created on open when missing.
* ``postgresql://user:password@host:port/dbname?pool_size=5&max_overflow=10&schema=public``
  — production; tables are never created on open: call ``migrate(url)`` once (a deploy step).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from helios.adapters.store.codec import EventCodec, Upcasters
from helios.adapters.store.memory import open_memory_store
from helios.adapters.store.sqlite import migrate_sqlite, open_sqlite_store
from helios.ports.event_store import EventStore

if TYPE_CHECKING:
    from helios.adapters.store.postgres import PostgresSettings

# The PostgreSQL adapter (and psycopg, libpq with it: about 10 MiB resident) is imported only
# when a postgresql:// URL is opened: the embedded default's processes never need it.

_INT_OPTIONS = ("pool_size", "max_overflow", "connect_timeout", "lock_timeout")


def open_event_store(
    url: str,
    *,
    types: Mapping[str, type[Any]] | None = None,
    upcasters: Upcasters | None = None,
) -> EventStore:
    """Open the event store at ``url``, decoding with ``types`` (default: the domain registry).

    Raises:
        ValueError: the URL's scheme is not supported.
        StoreUnavailable: the store cannot be reached, or a PostgreSQL schema is missing.
    """
    codec = EventCodec(types=types, upcasters=upcasters)
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return open_memory_store(codec=codec)
    if scheme == "sqlite":
        return open_sqlite_store(sqlite_path(url), codec=codec, create=True)
    if scheme in ("postgresql", "postgres"):
        from helios.adapters.store.postgres import open_postgres_store

        return open_postgres_store(postgres_settings(url), codec=codec)
    raise ValueError(f"unsupported event store URL scheme {scheme!r}")


def migrate(url: str) -> None:
    """Create the event store's schema at ``url`` if missing (idempotent).

    Raises:
        ValueError: the URL's scheme is not supported.
        StoreUnavailable: the store cannot be reached.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return
    if scheme == "sqlite":
        migrate_sqlite(sqlite_path(url))
    elif scheme in ("postgresql", "postgres"):
        from helios.adapters.store.postgres import migrate_postgres

        migrate_postgres(postgres_settings(url))
    else:
        raise ValueError(f"unsupported event store URL scheme {scheme!r}")


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:`` URL (``sqlite://:memory:`` is not supported)."""
    parts = urlsplit(url)
    if parts.netloc:
        raise ValueError(f"sqlite URL must be sqlite:///abs/path or sqlite:rel/path, got {url!r}")
    if not parts.path:
        raise ValueError("sqlite URL has no file path")
    return unquote(parts.path)


def postgres_settings(url: str) -> PostgresSettings:
    """Connection and pool settings from a ``postgresql:`` URL."""
    from helios.adapters.store.postgres import PostgresSettings

    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    schema = query.pop("schema", "public")
    unknown = set(query) - set(_INT_OPTIONS)
    if unknown:
        raise ValueError(f"unknown event store URL options: {sorted(unknown)}")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ValueError("postgresql URL has no database name")
    return PostgresSettings(
        dbname=dbname,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        schema=schema,
        **{key: int(value) for key, value in query.items()},
    )
