"""The limits and field checks every source's normalizer applies, and signal assembly.

Checks append a ``FieldError`` to the caller's ``errors`` list instead of raising, so that one
rejection names every bad field (a PagerDuty client gets them all in its 400). Notes record
what normalization changed on purpose (a truncated summary, a default severity, a clamped
clock); they are kept on the signal but are not part of its identity.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from helios.domain import identity
from helios.domain.normalize import FieldError, JsonDecoder, Rejected
from helios.domain.ruleset import LABEL_KEY, Ruleset
from helios.domain.timestamps import TimestampError, parse_rfc3339
from helios.domain.values import Action, Envelope, Labels, Link, Millis, Severity, Signal

MAX_BODY_BYTES = 512 * 1024
MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255
MAX_LABELS = 64
MAX_LABEL_VALUE_CHARS = 1024

JsonObject = dict[str, Any]
T = TypeVar("T")
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""An integer a typed struct accepts: orjson reads larger ones as floats, so they take the
checked path, which decodes them as the injected decoder does."""
FlatObject = dict[str, str | bool | Int64 | float | None]
"""A free-form object a typed struct accepts (``custom_details``, ``details``): flat; a nested
one takes the checked path."""


class TypedLink(msgspec.Struct, forbid_unknown_fields=True):
    """One of a ``links`` list: ``{"href": ..., "text": ...}``."""

    href: str
    text: str | UnsetType = UNSET


Errors = list[FieldError]
Notes = list[str]

# The json module sniffs UTF-16/32 and skips a UTF-8 byte order mark; faster decoders accept
# UTF-8 only. Refusing these up front keeps the result independent of the injected decoder,
# which replay depends on.
_FOREIGN_ENCODING_MARKS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
_CANONICAL_SEVERITIES = {severity.value: severity for severity in Severity}
# Built once: json.dumps with options constructs a new encoder on every call.
_CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def decode_object(raw: bytes, decode: JsonDecoder, *, field: str, errors: Errors) -> JsonObject:
    """Decode ``raw`` as one JSON object; on failure record why and return an empty object."""
    if raw.startswith(_FOREIGN_ENCODING_MARKS) or b"\x00" in raw[:4]:
        errors.append(
            FieldError(field=field, message="must be UTF-8 JSON without a byte order mark")
        )
        return {}
    try:
        document = decode(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSON syntax and invalid UTF-8 for json and orjson alike; deeply
        # nested input raises RecursionError in the json module.
        errors.append(FieldError(field=field, message=f"not valid JSON: {_brief(str(exc))}"))
        return {}
    if not isinstance(document, dict):
        errors.append(
            FieldError(field=field, message=f"must be a JSON object, not {_kind(document)}")
        )
        return {}
    if (b"\\ud" in raw or b"\\uD" in raw) and _has_lone_surrogate(document):
        errors.append(FieldError(field=field, message="contains an unpaired UTF-16 surrogate"))
        return {}
    return document


def link(href: str, text: str) -> Link:
    """``Link(href=href, text=text)``, shared: links are immutable, and the same few (an alert
    rule's, the Alertmanager's) recur in every signal of a source."""
    if len(href) + len(text) > _SHARED_LINK_MAX_CHARS:
        return Link(href=href, text=text)  # a long one is not kept: the memo stays small
    return _shared_link(href, text)


_SHARED_LINK_MAX_CHARS = 2048


@functools.lru_cache(maxsize=1024)
def _shared_link(href: str, text: str) -> Link:
    return Link(href=href, text=text)


def typed_links(raw: list[TypedLink] | UnsetType) -> tuple[Link, ...] | None:
    """``links_from`` of typed links; None when ``links_from`` would record an error."""
    if not raw:
        return ()
    if not all(link.href for link in raw):
        return None
    return tuple(Link(href=link.href, text=link.text or "") for link in raw)


def typed_details(fields: dict[str, Any]) -> str | None:
    """``details`` of the values of typed structs; None when ``details`` would record an
    error."""
    if not fields:
        return "{}"
    if not has_float_written_apart(fields):
        return canonical_json(fields).decode("utf-8")
    # Only the json module writes such a float as it always has.
    errors: Errors = []
    rendered = details(fields, "", errors)
    return None if errors else rendered


def typed_details_fit(fields: dict[str, Any]) -> bool:
    """Whether ``typed_details`` of ``fields`` records no error, found without writing them
    when no float needs the json module (every other typed value always encodes)."""
    return not has_float_written_apart(fields) or typed_details(fields) is not None


def has_float_written_apart(value: object) -> bool:
    """Whether ``value`` (of typed structs) holds a float that msgspec writes otherwise than
    the json module: ``1e+16`` and ``1e-05`` there, ``1e16`` and ``0.00001`` in msgspec. Both
    write the shortest text that reads back as the float, and differ only in when and how
    they use an exponent, which ``repr`` (the json module's way) uses from 1e16 up and below
    1e-4; zero and every float in between are written alike (a property test holds both to
    it). A NaN or an infinity, which a typed struct never holds, counts as apart too."""
    # Typed structs nest only a few levels deep: recursion is bounded.
    if type(value) is dict:
        return any(has_float_written_apart(item) for item in value.values())
    if type(value) is list:
        return any(has_float_written_apart(item) for item in value)
    if type(value) is float:
        return not (value == 0 or _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH)
    return False


_PLAIN_FLOAT_LOW = 1e-4
_PLAIN_FLOAT_HIGH = 1e16


def decode_typed(raw: bytes, decoder: msgspec.json.Decoder[T]) -> T | None:
    """``raw`` decoded into the decoder's typed struct; None when it does not fit exactly.

    The typed path of a source is only taken for bodies that decode completely (known fields,
    exact types, UTF-8 without lone surrogates, integers within 64 bits, no NaN): on those,
    ``json.loads`` and ``orjson.loads`` read the same values, so the result cannot depend on
    the injected decoder. Anything else returns None and is normalized by the field checks,
    which name each bad field.
    """
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None


_CANONICAL_MSGSPEC = msgspec.json.Encoder(order="sorted")

# The encoder's own method: called in C, without a Python frame (once per new webhook body).
canonical_json: Callable[[object], bytes] = _CANONICAL_MSGSPEC.encode
"""The canonical JSON of a value (sorted keys, compact, UTF-8), as ``details`` writes it.

For values of typed structs only: strings, integers, booleans, null, lists and string-keyed
objects of them (and ``msgspec.Raw`` canonical text). msgspec writes those exactly as the
json module does with ``ensure_ascii=False``, and floats too except where it writes an
exponent differently (``1e16``, not ``1e+16``): a value that holds such a float (see
``has_float_written_apart``) goes through ``details``.
"""


parse_time = parse_rfc3339
"""``parse_rfc3339``, memoized (it is): a batch's alerts and an HA pair's copies share times.

Raises:
    TimestampError: the text is not a valid timestamp.
"""


def _has_lone_surrogate(document: JsonObject) -> bool:
    # Only reached when the body contains a \ud... escape: the json module turns an unpaired
    # one into a str that cannot be encoded as UTF-8 (orjson refuses it outright).
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return True
    return False


def text(
    obj: Mapping[str, Any], key: str, field: str, errors: Errors, *, required: bool = False
) -> str | None:
    """The string at ``obj[key]``; None when absent or null (an error if ``required``)."""
    value = obj.get(key)
    if isinstance(value, str):
        if required and not value:
            errors.append(FieldError(field=field, message="must not be empty"))
        return value
    if value is None:
        if required:
            errors.append(FieldError(field=field, message="is required"))
        return None
    errors.append(FieldError(field=field, message=f"must be a string, not {_kind(value)}"))
    return None


def mapping(obj: Mapping[str, Any], key: str, field: str, errors: Errors) -> JsonObject | None:
    """The object at ``obj[key]``; None when absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    errors.append(FieldError(field=field, message=f"must be an object, not {_kind(value)}"))
    return None


def labels_from(raw: Mapping[str, Any], field: str, errors: Errors) -> Labels:
    """Validated, sorted labels; every violation is an error (values are never truncated)."""
    if len(raw) > MAX_LABELS:
        errors.append(
            FieldError(field=field, message=f"has {len(raw)} labels, at most {MAX_LABELS} allowed")
        )
        return ()
    items = sorted(raw.items())
    # Fast path for the usual case: names already seen valid, every value a short string.
    if _valid_label_names(tuple(raw)) and all(
        type(value) is str and len(value) <= MAX_LABEL_VALUE_CHARS for _, value in items
    ):
        return tuple(items)
    for key, value in raw.items():
        if LABEL_KEY.match(key) is None:
            errors.append(FieldError(field=field, message=f"invalid label name {_brief(key)!r}"))
        elif not isinstance(value, str):
            errors.append(
                FieldError(field=f"{field}.{key}", message=f"must be a string, not {_kind(value)}")
            )
        elif len(value) > MAX_LABEL_VALUE_CHARS:
            errors.append(
                FieldError(
                    field=f"{field}.{key}",
                    message=f"is {len(value)} characters, at most {MAX_LABEL_VALUE_CHARS} allowed",
                )
            )
    return tuple(items)


def typed_labels(raw: dict[str, str]) -> Labels | None:
    """``labels_from`` of typed labels (every value a string): the sorted labels, or None when
    ``labels_from`` would record an error."""
    if len(raw) > MAX_LABELS or not _valid_label_names(tuple(raw)):
        return None
    if raw and max(map(len, raw.values())) > MAX_LABEL_VALUE_CHARS:
        return None
    return tuple(sorted(raw.items()))


def typed_labels_fit(raw: dict[str, str]) -> bool:
    """Whether ``typed_labels`` accepts ``raw``, without sorting them."""
    return not raw or (
        len(raw) <= MAX_LABELS
        and _valid_label_names(tuple(raw))
        and max(map(len, raw.values())) <= MAX_LABEL_VALUE_CHARS
    )


@functools.lru_cache(maxsize=1024)
def _valid_label_names(names: tuple[str, ...]) -> bool:
    # The same sets of label names recur in every batch of a source.
    return all(LABEL_KEY.match(name) is not None for name in names)


def links_from(raw: Any, field: str, errors: Errors) -> tuple[Link, ...]:
    """A ``[{"href": ..., "text": ...}]`` list as links; absent or null is no links."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(FieldError(field=field, message=f"must be a list, not {_kind(raw)}"))
        return ()
    links: list[Link] = []
    for index, item in enumerate(raw):
        path = f"{field}[{index}]"
        if not isinstance(item, dict):
            errors.append(FieldError(field=path, message=f"must be an object, not {_kind(item)}"))
            continue
        href = text(item, "href", f"{path}.href", errors, required=True)
        label = text(item, "text", f"{path}.text", errors)
        if href:
            links.append(Link(href=href, text=label or ""))
    return tuple(links)


def dedup_key(own: str | None, labels: Labels, ruleset: Ruleset, field: str, errors: Errors) -> str:
    """The source's own key when it has one, else the hash of the ruleset's key labels."""
    if not own:
        return identity.labels_dedup_key(labels, ruleset.key_labels)
    if len(own) > MAX_DEDUP_KEY_CHARS:
        errors.append(
            FieldError(
                field=field,
                message=f"is {len(own)} characters, at most {MAX_DEDUP_KEY_CHARS} allowed",
            )
        )
    return own


def severity(raw: str | None, ruleset: Ruleset, field: str, notes: Notes) -> Severity:
    """The ruleset's severity for a source value; unknown or missing gives the default."""
    mapped, defaulted = ruleset.map_severity(raw)
    if not defaulted:
        return mapped
    if raw:
        # A canonical name always means itself, even when a tenant's table leaves it out.
        canonical = _CANONICAL_SEVERITIES.get(raw.strip().lower())
        if canonical is not None:
            return canonical
        notes.append(f"{field} {_brief(raw)!r} is not in the severity map: used {mapped.value}")
    else:
        notes.append(f"{field} missing: used {mapped.value}")
    return mapped


def summary(raw: str, notes: Notes) -> str:
    """The summary, truncated (with a note) beyond the limit, as PagerDuty does."""
    if len(raw) <= MAX_SUMMARY_CHARS:
        return raw
    notes.append(f"summary truncated from {len(raw)} to {MAX_SUMMARY_CHARS} characters")
    return raw[:MAX_SUMMARY_CHARS]


def timestamp(obj: Mapping[str, Any], key: str, field: str, errors: Errors) -> Millis | None:
    """The RFC 3339 timestamp at ``obj[key]`` in UTC milliseconds; None when absent."""
    raw = text(obj, key, field, errors)
    if not raw:
        return None
    try:
        return parse_rfc3339(raw)
    except TimestampError as exc:
        errors.append(FieldError(field=field, message=str(exc)))
        return None


def occurred_at(
    source_time: Millis | None, received_at: Millis, ruleset: Ruleset, field: str, notes: Notes
) -> Millis:
    """The source's time; ``received_at`` when missing or too far in the future (noted)."""
    if source_time is None:
        notes.append(f"{field} missing: used received_at")
        return received_at
    ahead = source_time - received_at
    if ahead > ruleset.skew_tolerance_ms:
        notes.append(
            f"{field} was {ahead} ms after received_at (tolerance"
            f" {ruleset.skew_tolerance_ms} ms): clamped to received_at"
        )
        return received_at
    return source_time


def details(fields: Mapping[str, Any], field: str, errors: Errors) -> str:
    """Canonical JSON text (sorted keys, compact, UTF-8) of the fields kept as details."""
    if not fields:
        return "{}"
    try:
        return _CANONICAL_JSON.encode(fields)
    except ValueError:
        # NaN and Infinity are not JSON; the json module decodes them, stricter decoders do not.
        errors.append(FieldError(field=field, message="contains a number that is not finite"))
    except RecursionError:
        errors.append(FieldError(field=field, message="is nested too deeply"))
    return "{}"


def details_with(
    fields: Mapping[str, Any], *, key: str, rendered: str, field: str, errors: Errors
) -> str:
    """``details`` of ``fields`` plus ``key``, whose value is already canonical JSON text.

    A batch's shared fields are rendered once and spliced into every item's details, instead
    of being encoded again for each item.
    """
    head = details({k: v for k, v in fields.items() if k < key}, field, errors)
    tail = details({k: v for k, v in fields.items() if k > key}, field, errors)
    return "".join(
        (
            head[:-1],
            "," if len(head) > 2 else "",
            _CANONICAL_JSON.encode(key),
            ":",
            rendered,
            "," + tail[1:] if len(tail) > 2 else "}",
        )
    )


def assemble(
    *,
    envelope: Envelope,
    dedup_key: str,
    action: Action,
    severity: Severity,
    summary: str,
    occurred_at: Millis,
    labels: Labels,
    service: str = "",
    component: str = "",
    group: str = "",
    class_: str = "",
    links: tuple[Link, ...] = (),
    details: str = "{}",
    notes: Notes | None = None,
    untimed: bool = False,
) -> Signal:
    """The canonical signal from checked values, with its content-hash ``signal_id``.

    ``untimed``: the source gave no time of its own (``occurred_at`` is when it was received),
    so the id hashes the content alone (``identity.content_signal_id``).
    """
    source = envelope.source._value_  # the value, read without the enum's descriptor
    if untimed:
        sid = identity.content_signal_id(
            tenant=envelope.tenant,
            source=source,
            dedup_key=dedup_key,
            action=action,
            severity=severity,
            summary=summary,
            labels=labels,
            service=service,
        )
    else:
        sid = identity.signal_id(
            tenant=envelope.tenant,
            source=source,
            dedup_key=dedup_key,
            action=action,
            occurred_at=occurred_at,
            severity=severity,
            summary=summary,
            labels=labels,
        )
    return Signal(
        signal_id=sid,
        tenant=envelope.tenant,
        integration=envelope.integration,
        source=source,
        dedup_key=dedup_key,
        action=action,
        severity=severity,
        summary=summary,
        occurred_at=occurred_at,
        received_at=envelope.received_at,
        service=service,
        component=component,
        group=group,
        class_=class_,
        labels=labels,
        links=links,
        details=details,
        notes=tuple(notes) if notes else (),
    )


def rejected(what: str, errors: Errors) -> Rejected:
    """The rejection of an envelope, naming every bad field."""
    count = len(errors)
    plural = "" if count == 1 else "s"
    return Rejected(reason=f"invalid {what}: {count} field error{plural}", errors=tuple(errors))


def _kind(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
        case _:
            return type(value).__name__


def _brief(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."
