"""Helios as a library: open a store by URL, ingest envelopes, read alerts and decisions.

    import helios
    with helios.open("sqlite:alerts.db") as hx:
        hx.ingest([hx.envelope(tenant="acme", source="alertmanager", body=payload)])
        for alert in hx.alerts("acme"):
            print(alert.dedup_key, alert.status, alert.priority)

Reads here load aggregates from the event log (through the repository); the HTTP API
serves projections instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from types import TracebackType

from helios.apps.application.ingest import Ingestor, IngestReport
from helios.apps.application.repository import ALERT, INCIDENT_GROUP, SILENCES, Repository
from helios.apps.application.rules import publish_rules
from helios.apps.composition import open_event_store
from helios.domain import alert, incident, silence
from helios.domain.alert import AlertState
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, Millis, SourceKind
from helios.ports.event_store import (
    EventStore,
    LogEntry,
    RecordedEvent,
)

PAGE = 1_000


class Helios:
    """An embedded Helios over one event store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._repository = Repository(store)
        self._ingestor = Ingestor(store, repository=self._repository)

    def __enter__(self) -> Helios:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ writing

    @staticmethod
    def envelope(
        *,
        tenant: str,
        source: str | SourceKind,
        body: bytes,
        integration: str = "library",
        received_at: Millis | None = None,
        ingest_id: str | None = None,
    ) -> Envelope:
        """Build an envelope as the API would (the time and id are assigned here)."""
        return Envelope(
            ingest_id=ingest_id or uuid.uuid4().hex,
            tenant=tenant,
            integration=integration,
            source=SourceKind(source),
            received_at=received_at if received_at is not None else time.time_ns() // 1_000_000,
            body=body,
        )

    def ingest(self, envelopes: Sequence[Envelope]) -> IngestReport:
        """Normalize, decide and record a batch atomically (redeliveries change nothing).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self._ingestor.ingest(envelopes)

    def tick(self, tenant: str, at: Millis, dedup_keys: Sequence[str] | None = None) -> int:
        """Let time reach ``at`` for a tenant's alerts (all of them by default).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        keys = (
            list(dedup_keys)
            if dedup_keys is not None
            else [a.dedup_key for a in self.alerts(tenant)]
        )
        return self._ingestor.tick(tenant, keys, at)

    def publish_rules(self, tenant: str, ruleset: Ruleset, *, by: str = "library") -> int:
        """Publish the next version of a tenant's rules; returns the version.

        Raises:
            CommandRejected: the ruleset is invalid or not the next version.
            ConcurrencyConflict: another version was published meanwhile.
        """
        return publish_rules(self.store, tenant=tenant, ruleset=ruleset, by=by, at=_now())

    def create_silence(self, tenant: str, new: silence.Silence) -> None:
        """Add a silence to a tenant.

        Raises:
            CommandRejected: the silence is invalid or its id exists.
            ConcurrencyConflict: the tenant's silences changed meanwhile.
        """
        # The library ingests history: its silences may cover windows already past.
        command = silence.CreateSilence(silence=new, at=_now(), backfill=True)
        self._repository.execute(SILENCES, tenant, lambda state: silence.decide(command, state))

    # ------------------------------------------------------------------ reading

    def rules(self, tenant: str) -> Ruleset:
        return self._ingestor.context(tenant).ruleset

    def alert(self, tenant: str, dedup_key: str) -> AlertState | None:
        """The alert's current state (None if it never existed).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        state, version = self._repository.load(ALERT, (tenant, dedup_key))
        return state if version else None

    def decisions(self, tenant: str, dedup_key: str) -> list[RecordedEvent]:
        """Every event of the alert's stream, in order (its signals and decisions)."""
        return list(self.store.read_stream(alert.alert_stream_id(tenant, dedup_key)))

    def alerts(self, tenant: str) -> list[AlertState]:
        """Every alert of a tenant (scans the log: fine embedded, the API uses projections)."""
        keys = sorted(
            {
                entry.event.signal.dedup_key
                for entry in self._log()
                if isinstance(entry.event, alert.SignalAccepted)
                and entry.event.signal.tenant == tenant
            }
        )
        found = [self.alert(tenant, key) for key in keys]
        return [state for state in found if state is not None]

    def incidents(self, tenant: str) -> list[incident.IncidentGroup]:
        """The incident groups of a tenant with their open incident, if any."""
        groups = sorted({a.group_key for a in self.alerts(tenant) if a.group_key})
        found = []
        for key in groups:
            state, _ = self._repository.load(INCIDENT_GROUP, (tenant, key))
            if state.opened:
                found.append(state)
        return found

    def _log(self) -> Iterator[LogEntry]:
        after = 0
        while True:
            page = self.store.read_log(after, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].position


def _now() -> Millis:
    return time.time_ns() // 1_000_000


def open_store(url: str) -> Helios:
    """Open Helios over the event store at ``url`` (``memory://``, ``sqlite:path``,
    ``postgresql://…``).

    Raises:
        ValueError: unsupported URL.
        StoreUnavailable: the store cannot be reached (or, for PostgreSQL, is not migrated).
    """
    return Helios(open_event_store(url))
