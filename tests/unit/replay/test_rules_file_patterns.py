"""Rules-file matchers are RE2 patterns: one RE2 cannot read is an error naming the matcher
and its line, from ``loads`` and from ``helios replay what-if``."""

from __future__ import annotations

from pathlib import Path

import pytest

from helios.apps.application import rules_file
from helios.apps.cli import main

BACK_REFERENCE = """version = 2

[[multipliers]]
name = "twin-team"
percent = 150
matchers = ["service=checkout", "team=~(\\\\w+)-\\\\1"]
"""


def test_a_back_reference_is_a_rules_file_error_naming_the_matcher_and_line() -> None:
    """multipliers[0].matchers[1], line 6, with RE2's reason."""
    with pytest.raises(rules_file.RulesFileError) as caught:
        rules_file.loads(BACK_REFERENCE)
    [problem] = caught.value.problems
    assert (problem.field, problem.line) == ("multipliers[0].matchers[1]", 6)
    assert problem.message == "not an RE2 pattern: invalid escape sequence: \\1"


def test_what_if_refuses_such_a_file_before_reading_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A usage error (exit 2) that says which matcher, not a replay."""
    path = tmp_path / "rules.toml"
    path.write_text(BACK_REFERENCE)
    assert main(["replay", "what-if", "--store", "memory://", "--rules", str(path)]) == 2
    assert "line 6: multipliers[0].matchers[1]: not an RE2 pattern" in capsys.readouterr().err
