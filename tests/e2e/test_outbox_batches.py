"""The dispatcher records a batch's outcomes in one write of the read-model database (which the
projector writes too), whatever each email came to."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helios.adapters.memory.mailer import InMemoryMailer
from helios.apps.composition import open_read_models
from helios.apps.views import outbox
from helios.apps.workers.notifier import Dispatcher
from helios.ports.read_models import Cursor, ReadModels


class CountingWrites:
    """The read models, counting write transactions (everything else passes)."""

    def __init__(self, db: ReadModels) -> None:
        self._db = db
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        self.transactions += 1
        with self._db.transaction() as cursor:
            yield cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_batch_of_emails_is_recorded_in_one_transaction_with_each_outcome(
    tmp_path: Path,
) -> None:
    db = open_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    try:
        emails = [
            outbox.PendingEmail(
                notification_id=f"n-{n}", tenant="acme", dedup_key=f"fp-{n}", position=n,
                reason="triggered", priority="P1", recipients="a@x.io", subject=f"s{n}",
                body="b", created_at=1,
            )
            for n in range(30)
        ]  # fmt: skip
        with db.transaction() as cursor:
            outbox.add_pending(cursor, emails)
        mailer = InMemoryMailer()
        mailer.fail_next(1, permanent=True)  # n-0: refused for good
        mailer.fail_next(1)  # n-1: the relay is down, try again later
        counting = CountingWrites(db)
        dispatcher = Dispatcher(counting, mailer, sender="helios@x")  # type: ignore[arg-type]

        tried = asyncio.run(dispatcher.send_due(limit=50))

        assert (tried, counting.transactions) == (30, 1)
        rows = {
            n: (status, attempts)
            for n, status, attempts in db.query(
                "SELECT notification_id, status, attempts FROM notification_outbox"
            )
        }
        assert rows == {"n-0": ("failed", 1), "n-1": ("pending", 1)} | {
            f"n-{n}": ("sent", 1) for n in range(2, 30)
        }
        assert [m.subject for m in mailer.sent] == [f"s{n}" for n in range(2, 30)]
    finally:
        db.close()
