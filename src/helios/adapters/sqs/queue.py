"""The ``Queue`` port on Amazon SQS (or an SQS-compatible server), through aiobotocore.

Bodies are framed by ``queue_codec.to_text``; one above the SQS message limit is stored in the
``BlobStore`` and replaced by a pointer, resolved again in ``receive``. Dead-lettering is the
queue's own redrive policy (see ``provisioning.create_queues``).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

import structlog
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from helios.adapters import queue_codec
from helios.adapters.sqs.batching import MAX_BATCH_ENTRIES, MAX_PAYLOAD_BYTES, split_batches
from helios.ports.queue import (
    BlobNotFound,
    BlobStore,
    MessageAttributes,
    MessageRejected,
    OutgoingMessage,
    QueueBacklog,
    QueueUnavailable,
    ReceivedMessage,
    RedriveAll,
)

_log = structlog.get_logger(__name__)

_MAX_WAIT_S = 20
_ATTRIBUTE_NAMES = ("tenant", "correlation_id", "kind")
# SQS counts each attribute's name, data type and value against the message size.
_STRING = "String"
# Batch entries that fail because the message is no longer ours: it was deleted, or its
# visibility expired and another consumer holds it now. Nothing to do; it will be redelivered.
_GONE = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})
# What SQS accepts as a MessageGroupId or MessageDeduplicationId: 1 to 128 printable ASCII
# characters. Anything else (a long or non-ASCII tenant id) is replaced by its SHA-256.
_FIFO_ID = re.compile(r"[!-~]{1,128}")
_DEFAULT_GROUP = "default"
# A FIFO dead letter passed over by a redrive or purge is sent again to the tail of its group: the
# copy keeps the id it is known by and the receives it had in these attributes (theirs, not the
# message's: a redrive leaves them out).
_DEAD_LETTER_ID = "helios.dead_letter_id"
_EARLIER_RECEIVES = "helios.dead_letter_receives"
_DEAD_LETTER_ATTRIBUTES = frozenset({_DEAD_LETTER_ID, _EARLIER_RECEIVES})
_REJECTED_CODES = frozenset(
    {"InvalidMessageContents", "InvalidParameterValue", "BatchRequestTooLong", "MissingParameter"}
)


class SqsQueue:
    """``Queue`` on an SQS queue and its dead-letter queue; counts API calls per operation."""

    def __init__(
        self,
        *,
        client: Any,
        queue_url: str,
        dead_letter_url: str,
        blob_store: BlobStore,
        max_message_bytes: int = MAX_PAYLOAD_BYTES,
        batch_attempts: int = 3,
        retry_delay_s: float = 0.05,
        redrive_visibility_s: int = 60,
        redrive_wait_s: int = 1,
    ) -> None:
        self._client = client
        self._url = queue_url
        self._dead_url = dead_letter_url
        self._blobs = blob_store
        self._max_message_bytes = max_message_bytes
        self._batch_attempts = batch_attempts
        self._retry_delay_s = retry_delay_s
        self._redrive_visibility_s = redrive_visibility_s
        self._redrive_wait_s = redrive_wait_s
        self._fifo = queue_url.endswith(".fifo")
        self._calls: Counter[str] = Counter()

    @property
    def api_calls(self) -> Mapping[str, int]:
        """SQS API calls made so far, by operation (botocore's own retries not counted)."""
        return dict(self._calls)

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        entries: list[dict[str, Any]] = []
        sizes: list[int] = []
        for message in messages:
            entry = self._entry(message, queue_codec.to_text(message.body))
            size = _entry_size(entry)
            if size > self._max_message_bytes:
                key = f"payload-{uuid.uuid4().hex}"
                await self._blobs.put(key, message.body)
                entry = self._entry(message, queue_codec.pointer_text(key))
                size = _entry_size(entry)
            entries.append(entry)
            sizes.append(size)
        try:
            batches = split_batches(sizes, max_bytes=self._max_message_bytes)
        except ValueError as error:  # attributes alone above the limit
            raise MessageRejected(str(error)) from error
        for number, batch in enumerate(batches):
            try:
                await self._batched(
                    "SendMessageBatch",
                    self._url,
                    [dict(entries[i], Id=str(n)) for n, i in enumerate(batch)],
                )
            except BaseException:
                # Batches never attempted leave no pointer message behind: drop their blobs.
                for later in batches[number + 1 :]:
                    await self._forget_blobs(entries[i]["MessageBody"] for i in later)
                raise

    async def receive(
        self,
        *,
        max_messages: int,
        wait_seconds: float,
        visibility_timeout_s: int | None = None,
    ) -> Sequence[ReceivedMessage]:
        received: list[ReceivedMessage] = []
        wait = min(_MAX_WAIT_S, math.ceil(wait_seconds))
        while len(received) < max_messages:
            want = min(MAX_BATCH_ENTRIES, max_messages - len(received))
            raw = await self._receive_raw(self._url, want, wait, visibility_timeout_s)
            for item in raw:
                message = await self._decoded(item, strict=True)
                if message is not None:
                    received.append(message)
            # Only the first call waits; keep taking while the queue hands out full batches.
            if len(raw) < want:
                break
            wait = 0
        return received

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        for start in range(0, len(messages), MAX_BATCH_ENTRIES):
            chunk = messages[start : start + MAX_BATCH_ENTRIES]
            entries = [{"Id": str(n), "ReceiptHandle": m.receipt} for n, m in enumerate(chunk)]
            await self._batched("DeleteMessageBatch", self._url, entries, ignore=_GONE)
        for message in messages:
            if message.payload_ref is not None:
                await self._forget_blob(message.payload_ref)

    async def extend_visibility(self, messages: Sequence[ReceivedMessage], seconds: int) -> None:
        for start in range(0, len(messages), MAX_BATCH_ENTRIES):
            chunk = messages[start : start + MAX_BATCH_ENTRIES]
            entries = [
                {"Id": str(n), "ReceiptHandle": m.receipt, "VisibilityTimeout": seconds}
                for n, m in enumerate(chunk)
            ]
            await self._batched("ChangeMessageVisibilityBatch", self._url, entries, ignore=_GONE)

    async def check_ready(self) -> None:
        # SQS's storage is not ours to fill: reachable and answering is ready.
        await self.depth()

    async def depth(self) -> int:
        response = await self._call(
            "GetQueueAttributes",
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = response.get("Attributes", {})
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    async def backlog(self) -> QueueBacklog:
        # SQS keeps no age per queue in its attributes (CloudWatch's
        # ApproximateAgeOfOldestMessage does): the alarms in infra/ watch that one.
        depth = await self.depth()
        response = await self._call(
            "GetQueueAttributes",
            QueueUrl=self._dead_url,
            AttributeNames=["ApproximateNumberOfMessages"],
        )
        dead = int(response.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
        return QueueBacklog(depth=depth, oldest_age_s=None, dead_letters=dead)

    async def dead_letters(self, *, limit: int) -> Sequence[ReceivedMessage]:
        seen: dict[str, ReceivedMessage] = {}
        # Peek with a zero visibility timeout so the view hides nothing from a redrive. SQS
        # samples servers, so ask a few times and stop when a round brings nothing new.
        for _ in range(math.ceil(limit / MAX_BATCH_ENTRIES) + 2):
            want = min(MAX_BATCH_ENTRIES, limit - len(seen))
            raw = await self._receive_raw(self._dead_url, want, 0, 0)
            new = [item for item in raw if item["MessageId"] not in seen]
            for item in new:
                message = await self._decoded(item, strict=False)
                if message is not None:
                    seen[message.message_id] = message
            if not new or len(seen) >= limit:
                break
        return list(seen.values())[:limit]

    async def purge_dead_letters(self, message_ids: Collection[str]) -> int:
        async def purge(chosen: list[dict[str, Any]]) -> None:
            decoded = [await self._decoded(m, strict=False) for m in chosen]
            await self._delete_dead(chosen)
            for message in decoded:
                if message is not None and message.payload_ref is not None:
                    await self._forget_blob(message.payload_ref)

        return await self._take_dead_letters(set(message_ids), purge)

    async def redrive(self, message_ids: Collection[str] | RedriveAll) -> int:
        # SQS's StartMessageMoveTask moves only everything and is missing from SQS-compatible
        # servers, so move by hand: copy to the main queue first, then delete the dead letter.
        async def move(chosen: list[dict[str, Any]]) -> None:
            await self._send_copies(
                self._url,
                [
                    {
                        "MessageBody": m["Body"],
                        "MessageAttributes": _copied_attributes(m),
                        **self._redriven_fifo_fields(m),
                    }
                    for m in chosen
                ],
            )
            await self._delete_dead(chosen)

        return await self._take_dead_letters(
            None if message_ids == "all" else set(message_ids), move
        )

    async def _take_dead_letters(
        self,
        wanted: set[str] | None,
        take: Callable[[list[dict[str, Any]]], Awaitable[None]],
    ) -> int:
        """Receive the dead letters, ``take`` those ``wanted`` (None: all); how many were taken.

        On a standard queue the others are left in flight, so the next receive gets new ones,
        and shown again at the end. A FIFO queue hands out a group's messages only in order,
        none while one of them is in flight: there the others are passed to the tail of their
        group (``_pass_over``), which puts the group's next ones at its head, until a dead
        letter passed over in this scan comes round again. The scan then holds it, as every
        later one of its group (sent after the scan began), and the group keeps its order.
        """
        # Each dead letter is passed over once per scan. Should a copy ever come back without
        # the id it is known by, the scan would never come round to it: a bound on passes made
        # from the queue's size at the start (approximate, hence the margin) still ends it.
        budget = 0
        if self._fifo and wanted is not None:
            budget = 2 * await self._dead_count() + MAX_BATCH_ENTRIES
        scan = _Scan(wanted, pass_budget=budget)
        try:
            while scan.goes_on():
                raw = await self._receive_raw(
                    self._dead_url,
                    MAX_BATCH_ENTRIES,
                    self._redrive_wait_s,
                    self._redrive_visibility_s,
                )
                if not raw:
                    break
                chosen, passed_over = scan.sort(raw, fifo=self._fifo)
                if chosen:
                    await take(chosen)
                    scan.taken(chosen)
                await self._pass_over(passed_over)
        finally:
            await self._show_again(scan.held)
        if scan.cut_short:
            _log.warning("queue.dead_letter_scan_cut_short", passed_over=budget)
        return scan.count

    async def _dead_count(self) -> int:
        response = await self._call(
            "GetQueueAttributes",
            QueueUrl=self._dead_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = response.get("Attributes", {})
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    async def _pass_over(self, items: list[dict[str, Any]]) -> None:
        """Move FIFO dead letters to the tail of their group: a copy first (same body,
        attributes and group; its dead-letter id and receives kept in attributes), then the
        original is deleted. The copy's deduplication id names the original, so one passed
        over twice (copied, then the delete failed) is copied once."""
        if not items:
            return
        await self._send_copies(
            self._dead_url,
            [
                {
                    "MessageBody": m["Body"],
                    "MessageAttributes": {
                        **_copied_attributes(m),
                        _DEAD_LETTER_ID: {"DataType": _STRING, "StringValue": _dead_letter_id(m)},
                        _EARLIER_RECEIVES: {
                            "DataType": _STRING,
                            "StringValue": str(_receive_count(m)),
                        },
                    },
                    "MessageGroupId": m.get("Attributes", {}).get("MessageGroupId")
                    or _DEFAULT_GROUP,
                    "MessageDeduplicationId": f"pass/{m['MessageId']}",
                }
                for m in items
            ],
        )
        await self._delete_dead(items)

    async def _send_copies(self, url: str, entries: list[dict[str, Any]]) -> None:
        """Send copies of received messages, in as many batches as SQS's byte limit needs.

        Raises:
            MessageRejected: a copy alone is above the limit (attributes added to a message
                already at it).
            QueueUnavailable: the queue cannot be reached.
        """
        try:
            batches = split_batches(
                [_entry_size(entry) for entry in entries], max_bytes=self._max_message_bytes
            )
        except ValueError as error:
            raise MessageRejected(str(error)) from error
        for batch in batches:
            await self._batched(
                "SendMessageBatch", url, [dict(entries[i], Id=str(n)) for n, i in enumerate(batch)]
            )

    async def _delete_dead(self, items: list[dict[str, Any]]) -> None:
        await self._batched(
            "DeleteMessageBatch",
            self._dead_url,
            [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(items)],
            ignore=_GONE,
        )

    async def _show_again(self, receipts: list[str]) -> None:
        """Make the dead letters looked at but not taken visible again at once."""
        for start in range(0, len(receipts), MAX_BATCH_ENTRIES):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(receipts[start : start + MAX_BATCH_ENTRIES])
            ]
            await self._batched(
                "ChangeMessageVisibilityBatch", self._dead_url, entries, ignore=_GONE
            )

    # -- plumbing -------------------------------------------------------------------------

    def _entry(self, message: OutgoingMessage, body: str) -> dict[str, Any]:
        attributes = message.attributes
        values = (attributes.tenant, attributes.correlation_id, attributes.kind)
        entry: dict[str, Any] = {
            "MessageBody": body,
            # SQS refuses empty attribute values: an empty one is left out and read back as "".
            "MessageAttributes": {
                name: {"DataType": _STRING, "StringValue": value}
                for name, value in zip(_ATTRIBUTE_NAMES, values, strict=True)
                if value
            },
        }
        if self._fifo:
            group = message.group if message.group is not None else attributes.tenant
            entry.update(_fifo_fields(group, message.deduplication_id))
        return entry

    def _redriven_fifo_fields(self, item: Mapping[str, Any]) -> dict[str, str]:
        """A redriven message's group on a FIFO queue: the one it had (a FIFO dead-letter
        queue keeps it), else its tenant's, as ``send`` would choose.

        Its deduplication id is new (the dead letter's message id): the original one may still
        be inside the 5-minute window, where SQS would silently drop the copy. A repeated
        redrive of one dead letter (copied, then the delete failed) is still dropped.
        """
        if not self._fifo:
            return {}
        group = item.get("Attributes", {}).get("MessageGroupId") or (
            (item.get("MessageAttributes") or {}).get("tenant", {}).get("StringValue", "")
        )
        return _fifo_fields(group, f"redrive/{_dead_letter_id(item)}")

    async def _receive_raw(
        self, url: str, count: int, wait_s: int, visibility_s: int | None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "QueueUrl": url,
            "MaxNumberOfMessages": count,
            "WaitTimeSeconds": wait_s,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "MessageGroupId"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_s is not None:
            params["VisibilityTimeout"] = visibility_s
        response = await self._call("ReceiveMessage", **params)
        return list(response.get("Messages", []))

    async def _decoded(self, item: Mapping[str, Any], *, strict: bool) -> ReceivedMessage | None:
        text: str = item["Body"]
        key = queue_codec.pointer_key(text)
        try:
            body = await self._blobs.get(key) if key is not None else queue_codec.from_text(text)
        except (BlobNotFound, queue_codec.MalformedMessage) as error:
            # Not handed out, not deleted: it comes back until the redrive policy moves it to
            # the dead-letter queue, where an operator sees it.
            _log.warning(
                "queue.undecodable_message", message_id=item["MessageId"], error=str(error)
            )
            if strict:
                return None
            body = b""
        attributes = item.get("MessageAttributes") or {}
        values = [attributes.get(name, {}).get("StringValue", "") for name in _ATTRIBUTE_NAMES]
        return ReceivedMessage(
            message_id=_dead_letter_id(item),
            receipt=item["ReceiptHandle"],
            body=body,
            attributes=MessageAttributes(
                tenant=values[0], correlation_id=values[1], kind=values[2]
            ),
            receive_count=_receive_count(item),
            payload_ref=key,
        )

    async def _batched(
        self,
        operation: str,
        url: str,
        entries: list[dict[str, Any]],
        *,
        ignore: frozenset[str] = frozenset(),
    ) -> None:
        """One batch call, retrying the entries that failed on SQS's side.

        Raises:
            MessageRejected: an entry failed by our fault (and is not in ``ignore``).
            QueueUnavailable: entries still failed after ``batch_attempts`` calls.
        """
        pending = {entry["Id"]: entry for entry in entries}
        for attempt in range(self._batch_attempts):
            response = await self._call(operation, QueueUrl=url, Entries=list(pending.values()))
            retry: dict[str, dict[str, Any]] = {}
            for failure in response.get("Failed", []):
                code = failure.get("Code", "")
                if code in ignore:
                    continue
                if failure.get("SenderFault"):
                    raise MessageRejected(
                        f"{operation} entry {failure['Id']}: {code} {failure.get('Message', '')}"
                    )
                retry[failure["Id"]] = pending[failure["Id"]]
            if not retry:
                return
            pending = retry
            await asyncio.sleep(self._retry_delay_s * 2**attempt)
        raise QueueUnavailable(
            f"{operation}: {len(pending)} entries still failing after {self._batch_attempts} calls"
        )

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        self._calls[operation] += 1
        method = getattr(self._client, xform_name(operation))
        try:
            response: dict[str, Any] = await method(**params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if operation == "SendMessageBatch" and code in _REJECTED_CODES:
                raise MessageRejected(f"{operation}: {error}") from error
            raise QueueUnavailable(f"{operation}: {error}") from error
        except BotoCoreError as error:
            # Connection refused, timeouts, DNS: botocore already retried with backoff.
            raise QueueUnavailable(f"{operation}: {error}") from error
        return response

    async def _forget_blobs(self, bodies: Any) -> None:
        for body in bodies:
            key = queue_codec.pointer_key(body)
            if key is not None:
                await self._forget_blob(key)

    async def _forget_blob(self, key: str) -> None:
        try:
            await self._blobs.delete(key)
        except QueueUnavailable as error:
            # The message is gone already; an orphan payload costs storage, not correctness.
            _log.warning("queue.payload_not_deleted", key=key, error=str(error))


def _entry_size(entry: Mapping[str, Any]) -> int:
    size = len(entry["MessageBody"].encode("utf-8"))
    for name, value in entry["MessageAttributes"].items():
        size += len(name) + len(value["DataType"]) + len(value["StringValue"].encode("utf-8"))
    return size


def _fifo_fields(group: str, deduplication_id: str | None) -> dict[str, str]:
    """MessageGroupId (usually the tenant: one consumer at a time per tenant, in order) and
    MessageDeduplicationId (SQS refuses a FIFO send with neither it nor content-based
    deduplication; a message without an id of its own gets a random one)."""
    return {
        "MessageGroupId": _fifo_id(group or _DEFAULT_GROUP),
        "MessageDeduplicationId": _fifo_id(deduplication_id or uuid.uuid4().hex),
    }


def _fifo_id(value: str) -> str:
    if _FIFO_ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _copied_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    attributes = item.get("MessageAttributes") or {}
    return {
        name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        for name, value in attributes.items()
        if "StringValue" in value and name not in _DEAD_LETTER_ATTRIBUTES
    }


def _dead_letter_id(item: Mapping[str, Any]) -> str:
    """The id a dead letter is known by: its message id, or the first one's for a copy."""
    attributes = item.get("MessageAttributes") or {}
    known: str = attributes.get(_DEAD_LETTER_ID, {}).get("StringValue") or item["MessageId"]
    return known


def _receive_count(item: Mapping[str, Any]) -> int:
    attributes = item.get("MessageAttributes") or {}
    earlier = attributes.get(_EARLIER_RECEIVES, {}).get("StringValue", "0")
    own = item.get("Attributes", {}).get("ApproximateReceiveCount", 1)
    return int(own) + (int(earlier) if earlier.isdigit() else 0)


class _Scan:
    """One redrive's or purge's pass over the dead letters: which to take, pass over or hold.

    A FIFO group once passed over is scanned round to the first dead letter passed over again,
    so it keeps its order; only what was in the queue when the scan began is passed over.
    """

    def __init__(self, wanted: set[str] | None, *, pass_budget: int) -> None:
        self._wanted = wanted  # None: all
        self._budget = pass_budget
        self._left = set(wanted) if wanted is not None else set()
        self._taken: set[str] = set()
        self._all_taken = 0
        self._passed: set[str] = set()
        self._moving: set[str] = set()  # groups with dead letters passed over
        self._round: set[str] = set()  # ... and come round to one of them again
        self.held: list[str] = []  # receipts to show again at the end

    @property
    def count(self) -> int:
        """How many dead letters were taken: each id counted once."""
        return self._all_taken if self._wanted is None else len(self._taken)

    @property
    def cut_short(self) -> bool:
        """Whether the scan stopped passing dead letters over at its bound."""
        return bool(self._moving) and len(self._passed) >= self._budget

    def goes_on(self) -> bool:
        if self._wanted is None or self._left:
            return True
        return bool(self._moving - self._round) and not self.cut_short

    def sort(
        self, raw: list[dict[str, Any]], *, fifo: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The received dead letters to take and to pass over, in the order received; the
        receipts of the others are added to ``held``."""
        chosen: list[dict[str, Any]] = []
        passed_over: list[dict[str, Any]] = []
        for item in raw:
            known = _dead_letter_id(item)
            group = item.get("Attributes", {}).get("MessageGroupId", "")
            if self._wanted is None or known in self._wanted:
                chosen.append(item)
                self._left.discard(known)
            elif not fifo or known in self._passed or group in self._round:
                self.held.append(item["ReceiptHandle"])
                if known in self._passed:
                    self._round.add(group)
            elif (self._left or group in self._moving) and len(self._passed) < self._budget:
                passed_over.append(item)
                self._passed.add(known)
                self._moving.add(group)
            else:  # nothing left to look for, and a group not moved yet: left as it is
                self.held.append(item["ReceiptHandle"])
        return chosen, passed_over

    def taken(self, chosen: list[dict[str, Any]]) -> None:
        self._all_taken += len(chosen)
        self._taken.update(_dead_letter_id(m) for m in chosen)
