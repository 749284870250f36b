"""Event store adapters (memory, SQLite, PostgreSQL) on the `eventsourcing` recorders."""

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.factory import migrate, open_event_store

__all__ = ["EventCodec", "migrate", "open_event_store"]
