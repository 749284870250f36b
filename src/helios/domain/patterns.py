"""Label patterns: the right-hand side of ``=~`` and ``!~`` matchers, and the engine reading it.

A pattern holds when it matches the *whole* label value (anchored at both ends, as
Alertmanager anchors). Patterns are RE2 syntax (https://github.com/google/re2/wiki/Syntax):
RE2 matches in time linear in the value whatever the pattern, so no matcher of one tenant can
stall the process for everyone, as a backtracking engine does on ``(a+)+$``.

Which engine reads a pattern is recorded, because it changes decisions: silences and rulesets
recorded before RE2 carry no engine and mean Python's backtracking ``re``
(``RegexEngine.PYTHON_RE``); an input's engine follows from its ``engine_version``
(``helios.domain.versions.RE2_PATTERNS``). An input recorded before RE2 is decided again with
``re`` for patterns recorded before RE2, so replay reproduces what was decided; every input
recorded since reads every pattern, old ones included, with RE2 (see ``reading_engine``).

The RE2 options below (memory bound, UTF-8, Perl classes) are part of ``RegexEngine.RE2``:
changing one would change which patterns compile, so it would be a new engine version.
"""

from __future__ import annotations

import enum
import functools
import re

import re2

from helios.domain import versions


class RegexEngine(enum.Enum):
    """The engine that reads label patterns; recorded on silences, rulesets and inputs."""

    PYTHON_RE = "re"
    """Python's backtracking ``re``: every record made before RE2 (they carry no engine)."""
    RE2 = "re2"
    """RE2 with the options of this module: linear time, no back-references or look-around."""


_RE2, _PYTHON_RE = RegexEngine.RE2, RegexEngine.PYTHON_RE
_RE2_PATTERNS = versions.RE2_PATTERNS

MAX_PATTERN_CHARS = 1024
"""The longest pattern a new silence or ruleset may hold (as long as a label value)."""
RE2_MAX_MEM = 1 << 20
"""Bytes RE2 may use for one compiled pattern; a pattern that needs more is refused."""

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = RE2_MAX_MEM
_RE2_OPTIONS.log_errors = False  # RE2 would print to stderr; refusals are returned instead
_RE2_OPTIONS.never_capture = True  # only whether it matches counts: no group bookkeeping

_CACHED_PATTERNS = 1024
"""Compiled patterns kept per process (each RE2 one holds at most ``RE2_MAX_MEM``)."""


def engine_for(engine_version: int) -> RegexEngine:
    """The engine an input handled under ``engine_version`` reads patterns with
    (``helios.domain.versions.RE2_PATTERNS``)."""
    # Module constants: a member read off its enum class costs a descriptor call, and this
    # is asked for every new signal.
    return _RE2 if engine_version >= _RE2_PATTERNS else _PYTHON_RE


def reading_engine(recorded: RegexEngine, deciding: RegexEngine) -> RegexEngine:
    """The engine that reads a pattern recorded under ``recorded`` when deciding an input
    recorded under ``deciding``: Python's ``re`` only if both predate RE2.

    So replaying an old input over old silences uses ``re``, as was done then; a new input
    never backtracks, even over an old silence; and a pattern validated by RE2 (a new silence,
    a rules file tried in what-if over old inputs) is never handed to ``re``.
    """
    if recorded is RegexEngine.PYTHON_RE and deciding is RegexEngine.PYTHON_RE:
        return RegexEngine.PYTHON_RE
    return RegexEngine.RE2


def pattern_problem(pattern: str) -> str | None:
    """Why a new silence or ruleset may not hold ``pattern`` (None when it may): too long,
    or RE2 cannot compile it (back-references, look-around, too large for its memory bound)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"at most {MAX_PATTERN_CHARS} characters"
    compiled = _compiled(pattern, RegexEngine.RE2)
    if isinstance(compiled, str):
        return f"not an RE2 pattern: {compiled}"
    return None


def full_match(pattern: str, value: str, engine: RegexEngine) -> bool | None:
    """Whether ``pattern`` matches all of ``value``, read by ``engine``; None when that engine
    cannot read the pattern (a matcher with such a pattern never holds)."""
    compiled = _compiled(pattern, engine)
    if isinstance(compiled, str):
        return None
    if isinstance(compiled, re.Pattern):
        return compiled.fullmatch(value) is not None
    # Bytes, not str: the binding's str path maps every offset back to characters, and
    # "surrogatepass" keeps a lone surrogate (which strict UTF-8 refuses) from raising.
    return compiled.fullmatch(value.encode("utf-8", "surrogatepass")) is not None


@functools.lru_cache(maxsize=_CACHED_PATTERNS)
def _compiled(pattern: str, engine: RegexEngine) -> re2._Regexp[bytes] | re.Pattern[str] | str:
    """The compiled pattern, or why the engine cannot compile it."""
    match engine:
        case RegexEngine.PYTHON_RE:
            try:
                return re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as error:
                return str(error)
        case RegexEngine.RE2:
            try:
                return re2.compile(pattern.encode("utf-8", "surrogatepass"), _RE2_OPTIONS)
            except re2.error as error:
                return _reason(error)


def _reason(error: re2.error) -> str:
    # The binding raises RE2's message as bytes.
    reason = error.args[0] if error.args else "cannot compile"
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
