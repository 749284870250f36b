"""Messages other than envelopes on the ingest queue: ``tick.v1`` (time reached ``at``) and
``sns.confirm.v1`` (visit the ``SubscribeURL`` of a recorded SNS subscription confirmation)."""

from __future__ import annotations

import attrs
import orjson

from helios.apps.application.envelopes import MalformedMessage
from helios.domain.values import Millis
from helios.ports.queue import MessageAttributes, OutgoingMessage

TICK_KIND = "tick.v1"


@attrs.frozen(kw_only=True)
class TickCommand:
    tenant: str
    at: Millis
    dedup_keys: tuple[str, ...]


def tick_message(tick: TickCommand) -> OutgoingMessage:
    """The queue message for a tick; its deduplication id makes a resend within the window a
    no-op (and ``Ingestor.tick`` records a ``(tenant, at)`` once anyway)."""
    return OutgoingMessage(
        body=orjson.dumps({"tenant": tick.tenant, "at": tick.at, "keys": list(tick.dedup_keys)}),
        attributes=MessageAttributes(
            tenant=tick.tenant, correlation_id=f"tick-{tick.at}", kind=TICK_KIND
        ),
        deduplication_id=f"tick/{tick.tenant}/{tick.at}",
    )


def decode_tick(body: bytes) -> TickCommand:
    """The tick a ``tick_message`` carries.

    Raises:
        MalformedMessage: the body is not a tick.
    """
    try:
        data = orjson.loads(body)
        return TickCommand(
            tenant=str(data["tenant"]),
            at=int(data["at"]),
            dedup_keys=tuple(str(k) for k in data["keys"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise MalformedMessage(f"bad tick: {error}") from error


SNS_CONFIRM_KIND = "sns.confirm.v1"


@attrs.frozen(kw_only=True)
class ConfirmSubscription:
    """Confirm the SNS subscription that envelope ``ingest_id`` asked to confirm."""

    tenant: str
    integration: str
    ingest_id: str
    topic_arn: str
    subscribe_url: str
    message_id: str


def confirm_message(command: ConfirmSubscription) -> OutgoingMessage:
    """The queue message for a confirmation; one per recorded confirmation request (its
    deduplication id makes a resend within the window a no-op)."""
    return OutgoingMessage(
        body=orjson.dumps(attrs.asdict(command)),
        attributes=MessageAttributes(
            tenant=command.tenant,
            correlation_id=f"sns-confirm-{command.ingest_id}",
            kind=SNS_CONFIRM_KIND,
        ),
        deduplication_id=f"sns-confirm/{command.tenant}/{command.ingest_id}",
        # A group of its own: it decides nothing about alerts, and a retry held invisible for
        # minutes must not hold up its tenant's envelopes and ticks on a FIFO queue.
        group=f"sns-confirm/{command.tenant}/{command.ingest_id}",
    )


def decode_confirmation(body: bytes) -> ConfirmSubscription:
    """The command a ``confirm_message`` carries.

    Raises:
        MalformedMessage: the body is not such a command.
    """
    try:
        data = orjson.loads(body)
        return ConfirmSubscription(
            **{field.name: str(data[field.name]) for field in attrs.fields(ConfirmSubscription)}
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise MalformedMessage(f"bad confirmation: {error}") from error
