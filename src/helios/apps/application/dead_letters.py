"""Dead letters: look at them, send them back to their queue or purge them, scoped to who
asks.

A tenant's admins see and redrive only the dead letters of their tenant; operators (scope
``None``) see every tenant's. A redrive or a purge is an admin action, recorded as a job with
who, when and which messages (``JobRunner.act_async``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from helios.apps.application.envelopes import ENVELOPE_KIND, MalformedMessage, decode_envelope
from helios.apps.application.jobs import JobRunner
from helios.domain.admin_jobs import PLATFORM, JobKind, Params
from helios.domain.values import Millis
from helios.ports.queue import Queue, ReceivedMessage

PREVIEW_CHARS = 60
LOOKED_AT = 1_000
"""Dead letters read at most per look (the queue's own order)."""


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A dead letter as people read it: routing, delivery count and the body it carried."""

    message_id: str
    kind: str
    tenant: str
    correlation_id: str
    receive_count: int
    size: int
    body: str
    ingest_id: str = ""
    source: str = ""
    integration: str = ""
    received_at: Millis | None = None
    error: str = ""

    @property
    def preview(self) -> str:
        return self.error or self.body[:PREVIEW_CHARS]


def describe(message: ReceivedMessage) -> DeadLetter:
    """A dead letter's details, its envelope decoded when it carries one."""
    body = message.body
    found: dict[str, object] = {}
    if message.attributes.kind == ENVELOPE_KIND:
        try:
            envelope = decode_envelope(body)
        except MalformedMessage as error:
            found["error"] = str(error)
        else:
            found.update(
                ingest_id=envelope.ingest_id,
                source=envelope.source.value,
                integration=envelope.integration,
                received_at=envelope.received_at,
            )
            body = envelope.body
    return DeadLetter(
        message_id=message.message_id,
        kind=message.attributes.kind,
        tenant=message.attributes.tenant,
        correlation_id=message.attributes.correlation_id,
        receive_count=message.receive_count,
        size=len(message.body),
        body=body.decode("utf-8", errors="replace"),
        **found,  # type: ignore[arg-type]
    )


async def dead_letters(
    queue: Queue, *, tenant: str | None, limit: int = LOOKED_AT
) -> tuple[DeadLetter, ...]:
    """The dead letters of one tenant (None: every tenant's), at most ``limit``.

    Raises:
        QueueUnavailable: the queue cannot be reached.
    """
    found = await queue.dead_letters(limit=LOOKED_AT)
    return tuple(describe(m) for m in _scoped(found, tenant))[:limit]


async def redrive(
    queue: Queue,
    runner: JobRunner,
    *,
    tenant: str | None,
    message_ids: Sequence[str],
    by: str,
) -> int:
    """Move dead letters back to the queue (only ``tenant``'s; None: any); returns how many.

    Raises:
        CommandRejected: no actor given.
        QueueUnavailable: the queue cannot be reached.
        StoreUnavailable: the store cannot be reached.
    """
    wanted = set(message_ids)

    async def work() -> tuple[Params, int]:
        # Only ids this caller can see are moved: another tenant's id is silently not theirs.
        visible = {m.message_id for m in _scoped(await queue.dead_letters(limit=LOOKED_AT), tenant)}
        moved = await queue.redrive(wanted & visible) if wanted & visible else 0
        return (("redriven", str(moved)),), moved

    moved: int = await runner.act_async(
        scope=PLATFORM if tenant is None else tenant,
        kind=JobKind.DLQ_REDRIVE,
        by=by,
        params=(("messages", ",".join(sorted(wanted))),),
        work=work,
    )
    return moved


async def purge(
    queue: Queue,
    runner: JobRunner,
    *,
    tenant: str | None,
    message_ids: Sequence[str],
    by: str,
) -> int:
    """Delete dead letters for good (only ``tenant``'s; None: any); returns how many.

    Raises:
        CommandRejected: no actor given.
        QueueUnavailable: the queue cannot be reached.
        StoreUnavailable: the store cannot be reached.
    """
    wanted = set(message_ids)

    async def work() -> tuple[Params, int]:
        visible = {m.message_id for m in _scoped(await queue.dead_letters(limit=LOOKED_AT), tenant)}
        purged = await queue.purge_dead_letters(wanted & visible)
        return (("purged", str(purged)),), purged

    purged: int = await runner.act_async(
        scope=PLATFORM if tenant is None else tenant,
        kind=JobKind.DLQ_PURGE,
        by=by,
        params=(("messages", ",".join(sorted(wanted))),),
        work=work,
    )
    return purged


def _scoped(messages: Sequence[ReceivedMessage], tenant: str | None) -> list[ReceivedMessage]:
    return [m for m in messages if tenant is None or m.attributes.tenant == tenant]
