"""The worker decides a batch of envelopes with automatic garbage collection off (its objects
are acyclic and freed by reference counting), and turns it back on after, failure or not."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence

import pytest

from helios.apps.application.ingest import IngestReport
from helios.apps.workers.ingest import IngestWorker
from helios.domain.values import Envelope, SourceKind
from helios.ports.queue import MessageAttributes, ReceivedMessage


class _Recording:
    """An ingestor that notes whether the collector was on while it decided."""

    def __init__(self, *, fails: bool = False) -> None:
        self.collecting: list[bool] = []
        self._fails = fails

    def ingest(self, envelopes: Sequence[Envelope]) -> IngestReport:
        self.collecting.append(gc.isenabled())
        if self._fails:
            raise RuntimeError("a bug")
        return IngestReport(envelopes=len(envelopes))


def _batch(count: int) -> list[tuple[ReceivedMessage, Envelope]]:
    return [
        (
            ReceivedMessage(
                message_id=f"m{n}",
                receipt=f"r{n}",
                body=b"",
                attributes=MessageAttributes(tenant="acme", correlation_id="c", kind="envelope.v1"),
                receive_count=1,
            ),
            Envelope(
                ingest_id=f"e{n}",
                tenant="acme",
                integration="int-1",
                source=SourceKind.GENERIC,
                received_at=0,
                body=b"{}",
            ),
        )
        for n in range(count)
    ]


def _worker() -> IngestWorker:
    return IngestWorker(queue=None, store=None)  # type: ignore[arg-type]  # neither is used


@pytest.mark.parametrize("fails", [False, True])
def test_a_batch_is_decided_without_automatic_collection_which_comes_back_after(
    fails: bool,
) -> None:
    ingestor = _Recording(fails=fails)
    assert gc.isenabled()
    done = asyncio.run(_worker()._ingest(ingestor, _batch(3), asyncio.Event()))  # type: ignore[arg-type]
    assert ingestor.collecting and not any(ingestor.collecting)
    assert gc.isenabled()
    assert len(done) == (0 if fails else 3)


def test_a_collector_turned_off_by_others_stays_off() -> None:
    ingestor = _Recording()
    gc.disable()
    try:
        asyncio.run(_worker()._ingest(ingestor, _batch(1), asyncio.Event()))  # type: ignore[arg-type]
        assert not gc.isenabled()
    finally:
        gc.enable()
