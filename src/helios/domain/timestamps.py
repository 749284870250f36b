"""RFC 3339 timestamps to and from UTC milliseconds, without reading any clock."""

from __future__ import annotations

import datetime as _dt
import functools
import re

from helios.domain.values import Millis

_RFC3339 = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,12}))?(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?\Z"
)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class TimestampError(ValueError):
    """A timestamp that is not RFC 3339 / ISO 8601 with a time of day."""


# Pure, and the same timestamps recur (HA pairs and repeat intervals resend the same alert):
# memoized. A failure is not cached; it raises again on every call.
@functools.lru_cache(maxsize=1 << 14)
def parse_rfc3339(text: str, *, offset_required: bool = False) -> Millis:
    """Parse an RFC 3339 timestamp to UTC milliseconds.

    A missing offset means UTC, as sources send it, unless ``offset_required`` (what people
    type into the API must say which zone it means). Fractions finer than a millisecond are
    truncated (Alertmanager sends nanoseconds).

    Raises:
        TimestampError: the text is not a valid timestamp, or has no offset when one is
            required.
    """
    usual = _usual_utc(text)
    if usual is not None:
        return usual
    return parse_by_pattern(text, offset_required=offset_required)


# Digits as "0", so that one comparison tells the usual shape (any other character is left as
# it is and fails it). On the ASCII bytes of the text: a table of bytes maps them in C, without
# a dict looked up per character; a text that is not ASCII (a digit of another script) is never
# of the usual shape.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_USUAL_SECONDS = b"0000-00-00T00:00:00"
_MILLIS = {f"{ms:03d}": ms for ms in range(1000)}
"""The milliseconds of each three ASCII digits: looked up, not parsed by ``int``."""
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_LONGEST_USUAL = len("0000-00-00T00:00:00.000000000000Z")


def _usual_utc(text: str) -> Millis | None:
    """The time in ``text`` when it has the usual shape, ``YYYY-MM-DDTHH:MM:SS[.f]Z`` (one to
    twelve ASCII digits of fraction), read without the pattern; None for any other text, and
    for a date or time the pattern's route must judge (a second of 60 is clamped there, an
    invalid date refused with its message). Most timestamps sent have this shape."""
    size = len(text)
    if (
        size < 20
        or size > _LONGEST_USUAL
        or text[-1] not in "Zz"
        or not text.isascii()
        or text[:19].encode().translate(_DIGITS_AS_ZERO) != _USUAL_SECONDS
    ):
        return None
    if size == 20:
        fraction_ms = 0
    elif text[19] == "." and (digits := text[20:-1]).isdigit():
        fraction_ms = _MILLIS[digits[:3].ljust(3, "0")]
    else:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text[:19])
    except ValueError:
        return None
    delta = moment - _EPOCH_NAIVE
    return (delta.days * 86_400 + delta.seconds) * 1000 + fraction_ms


def parse_by_pattern(text: str, *, offset_required: bool = False) -> Millis:
    """``parse_rfc3339`` of any text, by the pattern alone (the usual shape is read faster
    there, to the same result).

    Raises:
        TimestampError: as ``parse_rfc3339``.
    """
    match = _RFC3339.match(text.strip())
    if match is None:
        raise TimestampError(f"not an RFC 3339 timestamp: {text[:64]!r}")
    if offset_required and match["tz"] is None:
        raise TimestampError(f"no UTC offset (Z or +hh:mm): {text[:64]!r}")
    try:
        moment = _dt.datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            min(int(match["s"]), 59),
            tzinfo=_dt.UTC,
        )
    except ValueError as exc:
        raise TimestampError(f"not a valid date or time: {text[:64]!r}") from exc
    offset_ms = 0
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise TimestampError(f"not a valid UTC offset: {tz!r}")
        offset_ms = sign * (hours * 60 + minutes) * 60_000
    frac = (match["frac"] or "").ljust(3, "0")[:3]
    delta = moment - _EPOCH
    whole_ms = (delta.days * 86_400 + delta.seconds) * 1000
    return whole_ms + int(frac) - offset_ms


def format_rfc3339(at: Millis) -> str:
    """UTC milliseconds to ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    seconds, millis = divmod(at, 1000)
    return f"{_second_text(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of a UTC second. Remembered: the times of one listing or one
    batch fall in a few seconds, and the calendar arithmetic was most of a formatting."""
    moment = _EPOCH + _dt.timedelta(seconds=seconds)
    # Not strftime: glibc's %Y does not zero-pad years before 1000, which RFC 3339 requires.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
