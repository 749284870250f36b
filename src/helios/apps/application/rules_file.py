"""A hand-writable TOML ruleset: ``load`` parses and validates it, ``dump`` writes one.

Every section and key is optional; what is left out keeps the product default. Durations are
``"90s"``, ``"15m"``, ``"1h"`` or integer milliseconds; matchers are Alertmanager-style strings
(``team=payments``, ``env=~prod.*``, ``tier!=batch``, ``name!~test.*``). See docs/replay.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from typing import Any

import attrs

from helios.domain.ruleset import (
    DEFAULT_RULESET,
    CloudWatchInsufficientData,
    LabelMatcher,
    MatchOp,
    Multiplier,
    Ruleset,
    SeverityPolicy,
    validate,
)
from helios.domain.values import Priority, Severity


@attrs.frozen(kw_only=True)
class RulesProblem:
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.field}: {self.message}"


class RulesFileError(ValueError):
    """The rules file cannot be read, parsed or validated; ``problems`` name each field."""

    def __init__(self, problems: tuple[RulesProblem, ...]) -> None:
        self.problems = problems
        super().__init__("invalid rules file:\n" + "\n".join(f"  {p}" for p in problems))


_DURATION = re.compile(r"\s*(\d+)\s*(ms|s|m|h|d)\s*\Z")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*\Z")


class _Reader:
    """Reads one TOML document into Ruleset fields, collecting every problem."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[RulesProblem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(
            RulesProblem(field=field, message=message, line=_line_of(self.text, field))
        )

    def table(self, data: dict[str, Any], name: str, keys: set[str]) -> dict[str, Any]:
        section = data.get(name, {})
        if not isinstance(section, dict):
            self.fail(name, "must be a table")
            return {}
        for unknown in sorted(set(section) - keys):
            self.fail(
                f"{name}.{unknown}", f"unknown key (expected one of: {', '.join(sorted(keys))})"
            )
        return section

    def value(
        self, section: dict[str, Any], path: str, kind: type | tuple[type, ...], default: Any
    ) -> Any:
        key = path.rsplit(".", 1)[-1]
        if key not in section:
            return default
        value = section[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.fail(path, f"must be {names}, got {value!r}")
            return default
        return value

    def enum(
        self, section: dict[str, Any], path: str, enum: Callable[[str], Any], default: Any
    ) -> Any:
        raw = self.value(section, path, str, None)
        if raw is None:
            return default
        try:
            return enum(raw.strip())
        except ValueError:
            choices = ", ".join(m.value for m in enum)  # type: ignore[attr-defined]
            self.fail(path, f"{raw!r} is not one of: {choices}")
            return default

    def duration(self, section: dict[str, Any], path: str, default: int) -> int:
        raw = self.value(section, path, (int, str), None)
        if raw is None:
            return default
        if isinstance(raw, int):
            return raw
        match = _DURATION.match(raw)
        if match is None:
            self.fail(path, f"{raw!r} is not a duration like '90s', '15m', '1h' or milliseconds")
            return default
        return int(match.group(1)) * _UNIT_MS[match.group(2)]

    def strings(
        self, section: dict[str, Any], path: str, default: tuple[str, ...]
    ) -> tuple[str, ...]:
        raw = self.value(section, path, list, None)
        if raw is None:
            return default
        if not all(isinstance(item, str) for item in raw):
            self.fail(path, "must be a list of strings")
            return default
        return tuple(raw)

    def priorities(
        self, section: dict[str, Any], path: str, default: tuple[Priority, ...]
    ) -> tuple[Priority, ...]:
        names = self.strings(section, path, tuple(p.value for p in default))
        found = []
        for name in names:
            try:
                found.append(Priority(name.upper()))
            except ValueError:
                self.fail(path, f"{name!r} is not a priority (P1..P5)")
        return tuple(found)

    def matchers(self, raw: Any, path: str) -> tuple[LabelMatcher, ...]:
        if not isinstance(raw, list):
            self.fail(path, 'must be a list of matchers like "team=payments"')
            return ()
        found = []
        for index, item in enumerate(raw):
            match = _MATCHER.match(item) if isinstance(item, str) else None
            if match is None:
                self.fail(f"{path}[{index}]", f"{item!r} is not a matcher like 'name=value'")
                continue
            name, op, value = match.groups()
            found.append(LabelMatcher(name=name, op=MatchOp(op), value=value.strip('"')))
        return tuple(found)


_TOP = {
    "version",
    "identity",
    "severity_map",
    "conflicts",
    "scoring",
    "multipliers",
    "grouping",
    "notifications",
}

# The keys of each plain section, in the order the sections are checked (and their problems
# reported); severity_map and multipliers are read by their own functions.
_SECTION_KEYS = {
    "identity": {
        "key_labels",
        "default_severity",
        "skew_tolerance",
        "cloudwatch_insufficient_data",
    },
    "conflicts": {
        "severity_policy",
        "flap_threshold",
        "flap_window",
        "lateness_horizon",
        "horizon_signals",
    },
    "scoring": {
        "severity_points",
        "recurrence_points",
        "recurrence_cap",
        "flapping_penalty",
        "thresholds",
    },
    "grouping": {"group_by"},
    "notifications": {
        "priorities",
        "on_resolve",
        "channel",
        "recipients",
        "escalate_after",
        "escalate_priorities",
    },
}


def loads(text: str) -> Ruleset:
    """Parse and validate a TOML ruleset.

    Raises:
        RulesFileError: invalid TOML, unknown keys, wrong types or a ruleset that does not
            validate; each problem names its field and, when it can be found, its line.
    """
    data = _parse(text)
    reader = _Reader(text)
    for unknown in sorted(set(data) - _TOP):
        reader.fail(unknown, f"unknown section or key (expected one of: {', '.join(sorted(_TOP))})")
    sections = {name: reader.table(data, name, keys) for name, keys in _SECTION_KEYS.items()}
    fields: dict[str, Any] = {
        "version": reader.value(data, "version", int, 1),
        **_identity(reader, sections["identity"]),
        "severity_map": _severity_map(reader, data),
        **_conflicts(reader, sections["conflicts"]),
        **_scoring(reader, sections["scoring"]),
        "multipliers": _multipliers(reader, data),
        "group_by": reader.strings(
            sections["grouping"], "grouping.group_by", DEFAULT_RULESET.group_by
        ),
        **_notifications(reader, sections["notifications"]),
    }
    if reader.problems:
        raise RulesFileError(tuple(reader.problems))
    return _validated(text, Ruleset(**fields))


def _parse(text: str) -> dict[str, Any]:
    """The TOML document as a table.

    Raises:
        RulesFileError: the text is not TOML (the problem names the line when the parser does).
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise RulesFileError(
            (
                RulesProblem(
                    field="(toml)", message=str(error), line=int(line.group(1)) if line else None
                ),
            )
        ) from error


def _identity(reader: _Reader, identity: dict[str, Any]) -> dict[str, Any]:
    d = DEFAULT_RULESET
    return {
        "key_labels": reader.strings(identity, "identity.key_labels", d.key_labels),
        "default_severity": reader.enum(
            identity, "identity.default_severity", Severity, d.default_severity
        ),
        "skew_tolerance_ms": reader.duration(
            identity, "identity.skew_tolerance", d.skew_tolerance_ms
        ),
        "cloudwatch_insufficient_data": reader.enum(
            identity,
            "identity.cloudwatch_insufficient_data",
            CloudWatchInsufficientData,
            d.cloudwatch_insufficient_data,
        ),
    }


def _conflicts(reader: _Reader, conflicts: dict[str, Any]) -> dict[str, Any]:
    d = DEFAULT_RULESET
    return {
        "severity_policy": reader.enum(
            conflicts, "conflicts.severity_policy", SeverityPolicy, d.severity_policy
        ),
        "flap_threshold": reader.value(
            conflicts, "conflicts.flap_threshold", int, d.flap_threshold
        ),
        "flap_window_ms": reader.duration(conflicts, "conflicts.flap_window", d.flap_window_ms),
        "lateness_horizon_ms": reader.duration(
            conflicts, "conflicts.lateness_horizon", d.lateness_horizon_ms
        ),
        "horizon_signals": reader.value(
            conflicts, "conflicts.horizon_signals", int, d.horizon_signals
        ),
    }


def _scoring(reader: _Reader, scoring: dict[str, Any]) -> dict[str, Any]:
    d = DEFAULT_RULESET
    return {
        "severity_points": _severity_points(reader, scoring),
        "recurrence_points": reader.value(
            scoring, "scoring.recurrence_points", int, d.recurrence_points
        ),
        "recurrence_cap": reader.value(scoring, "scoring.recurrence_cap", int, d.recurrence_cap),
        "flapping_penalty": reader.value(
            scoring, "scoring.flapping_penalty", int, d.flapping_penalty
        ),
        "thresholds": _thresholds(reader, scoring),
    }


def _notifications(reader: _Reader, notifications: dict[str, Any]) -> dict[str, Any]:
    d = DEFAULT_RULESET
    return {
        "notify_priorities": reader.priorities(
            notifications, "notifications.priorities", d.notify_priorities
        ),
        "notify_on_resolve": reader.value(
            notifications, "notifications.on_resolve", bool, d.notify_on_resolve
        ),
        "notify_channel": reader.value(
            notifications, "notifications.channel", str, d.notify_channel
        ),
        "recipients": reader.value(notifications, "notifications.recipients", str, d.recipients),
        "escalate_after_ms": reader.duration(
            notifications, "notifications.escalate_after", d.escalate_after_ms
        ),
        "escalate_priorities": reader.priorities(
            notifications, "notifications.escalate_priorities", d.escalate_priorities
        ),
    }


def _validated(text: str, ruleset: Ruleset) -> Ruleset:
    """The ruleset, once the domain's validation accepts it.

    Raises:
        RulesFileError: validation refused it; problems are named as the file spells them.
    """
    problems = tuple(
        RulesProblem(
            field=_file_field(p.field), message=p.message, line=_line_of(text, _file_field(p.field))
        )
        for p in validate(ruleset)
    )
    if problems:
        raise RulesFileError(problems)
    return ruleset


def load(path: str) -> Ruleset:
    """Read a TOML ruleset file.

    Raises:
        RulesFileError: the file cannot be read or is not a valid ruleset.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise RulesFileError(
            (RulesProblem(field=path, message=error.strerror or str(error)),)
        ) from error
    return loads(text)


def _severity_map(reader: _Reader, data: dict[str, Any]) -> tuple[tuple[str, Severity], ...]:
    section = data.get("severity_map")
    if section is None:
        return DEFAULT_RULESET.severity_map
    if not isinstance(section, dict):
        reader.fail("severity_map", "must be a table of source value = severity")
        return DEFAULT_RULESET.severity_map
    return tuple(
        (name, reader.enum(section, f"severity_map.{name}", Severity, Severity.WARNING))
        for name in section
    )


def _severity_points(reader: _Reader, scoring: dict[str, Any]) -> tuple[tuple[Severity, int], ...]:
    table = reader.table(scoring, "severity_points", {s.value for s in Severity})
    defaults = dict(DEFAULT_RULESET.severity_points)
    return tuple(
        (s, reader.value(table, f"scoring.severity_points.{s.value}", int, defaults[s]))
        for s in Severity
    )


def _thresholds(reader: _Reader, scoring: dict[str, Any]) -> tuple[tuple[Priority, int], ...]:
    table = reader.table(scoring, "thresholds", {"P1", "P2", "P3", "P4"})
    defaults = dict(DEFAULT_RULESET.thresholds)
    return tuple(
        (p, reader.value(table, f"scoring.thresholds.{p.value}", int, defaults[p]))
        for p, _ in DEFAULT_RULESET.thresholds
    )


def _multipliers(reader: _Reader, data: dict[str, Any]) -> tuple[Multiplier, ...]:
    raw = data.get("multipliers", [])
    if not isinstance(raw, list):
        reader.fail("multipliers", "must be an array of tables: [[multipliers]]")
        return ()
    found = []
    for index, item in enumerate(raw):
        path = f"multipliers[{index}]"
        if not isinstance(item, dict):
            reader.fail(path, "must be a table")
            continue
        for unknown in sorted(set(item) - {"name", "percent", "service", "matchers"}):
            reader.fail(
                f"{path}.{unknown}", "unknown key (expected name, percent, service, matchers)"
            )
        found.append(
            Multiplier(
                name=reader.value(item, f"{path}.name", str, ""),
                percent=reader.value(item, f"{path}.percent", int, 100),
                service=reader.value(item, f"{path}.service", str, None),
                matchers=reader.matchers(item.get("matchers", []), f"{path}.matchers"),
            )
        )
    return tuple(found)


# Domain field names that the file spells differently (validation speaks domain names).
_FILE_NAMES = {
    "skew_tolerance_ms": "identity.skew_tolerance",
    "key_labels": "identity.key_labels",
    "flap_threshold": "conflicts.flap_threshold",
    "flap_window_ms": "conflicts.flap_window",
    "lateness_horizon_ms": "conflicts.lateness_horizon",
    "horizon_signals": "conflicts.horizon_signals",
    "severity_points": "scoring.severity_points",
    "recurrence_points": "scoring.recurrence_points",
    "flapping_penalty": "scoring.flapping_penalty",
    "thresholds": "scoring.thresholds",
    "group_by": "grouping.group_by",
    "escalate_after_ms": "notifications.escalate_after",
}


def _file_field(field: str) -> str:
    head, dot, rest = field.partition(".")
    bracket = head.find("[")
    base = head if bracket < 0 else head[:bracket]
    renamed = _FILE_NAMES.get(base)
    if renamed is None:
        return field
    return renamed + head[len(base) :] + (dot + rest)


def _line_of(text: str, field: str) -> int | None:
    """The 1-based line a dotted field is written on, found by scanning headers and keys."""
    parts = re.split(r"\.", re.sub(r"\[\d+\]", "", field))
    index_match = re.match(r"multipliers\[(\d+)\]", field)
    lines = text.splitlines()
    section = ""
    seen_multipliers = -1
    key = parts[-1]
    wanted_section = ".".join(parts[:-1])
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        header = re.match(r"\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            section = header.group(1)
            if section == "multipliers":
                seen_multipliers += 1
            if section == field:
                return number
            continue
        if not re.match(rf"{re.escape(key)}\s*=", stripped):
            continue
        if index_match and (
            section != "multipliers" or seen_multipliers != int(index_match.group(1))
        ):
            continue
        if (
            section == wanted_section
            or (index_match and section == "multipliers")
            or (not wanted_section and not section)
        ):
            return number
    return None


# --------------------------------------------------------------------------- dump


def dumps(ruleset: Ruleset) -> str:
    """The ruleset as a TOML document that ``loads`` reads back to an equal ruleset."""
    out = [
        "# Helios ruleset (see docs/replay.md for every field)",
        f"version = {ruleset.version}",
        "",
        "[identity]",
        f"key_labels = {_list(ruleset.key_labels)}",
        f"default_severity = {_str(ruleset.default_severity.value)}",
        f"skew_tolerance = {_duration(ruleset.skew_tolerance_ms)}",
        f"cloudwatch_insufficient_data = {_str(ruleset.cloudwatch_insufficient_data.value)}",
        "",
        "[severity_map]",
        *(f"{_key(name)} = {_str(severity.value)}" for name, severity in ruleset.severity_map),
        "",
        "[conflicts]",
        f"severity_policy = {_str(ruleset.severity_policy.value)}",
        f"flap_threshold = {ruleset.flap_threshold}",
        f"flap_window = {_duration(ruleset.flap_window_ms)}",
        f"lateness_horizon = {_duration(ruleset.lateness_horizon_ms)}",
        f"horizon_signals = {ruleset.horizon_signals}",
        "",
        "[scoring]",
        f"recurrence_points = {ruleset.recurrence_points}",
        f"recurrence_cap = {ruleset.recurrence_cap}",
        f"flapping_penalty = {ruleset.flapping_penalty}",
        "",
        "[scoring.severity_points]",
        *(f"{severity.value} = {points}" for severity, points in ruleset.severity_points),
        "",
        "[scoring.thresholds]",
        *(f"{priority.value} = {value}" for priority, value in ruleset.thresholds),
        "",
        "[grouping]",
        f"group_by = {_list(ruleset.group_by)}",
        "",
        "[notifications]",
        f"priorities = {_list(p.value for p in ruleset.notify_priorities)}",
        f"on_resolve = {'true' if ruleset.notify_on_resolve else 'false'}",
        f"channel = {_str(ruleset.notify_channel)}",
        f"recipients = {_str(ruleset.recipients)}",
        f"escalate_after = {_duration(ruleset.escalate_after_ms)}",
        f"escalate_priorities = {_list(p.value for p in ruleset.escalate_priorities)}",
    ]
    for multiplier in ruleset.multipliers:
        out += [
            "",
            "[[multipliers]]",
            f"name = {_str(multiplier.name)}",
            f"percent = {multiplier.percent}",
        ]
        if multiplier.service is not None:
            out.append(f"service = {_str(multiplier.service)}")
        matchers = (f"{m.name}{m.op.value}{m.value}" for m in multiplier.matchers)
        out.append(f"matchers = {_list(matchers)}")
    return "\n".join(out) + "\n"


def _str(value: str) -> str:
    # A TOML basic string is a JSON string for everything a ruleset holds.
    import json

    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _str(name)


def _list(values: Any) -> str:
    return "[" + ", ".join(_str(v) for v in values) + "]"


def _duration(ms: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ms and ms % _UNIT_MS[unit] == 0:
            return _str(f"{ms // _UNIT_MS[unit]}{unit}")
    return str(ms)
