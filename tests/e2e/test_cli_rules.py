"""``helios rules`` and ``helios operators`` over the embedded default's SQLite store: the
same use cases as the admin console, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helios.apps.cli import main

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)
    return tmp_path


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return str(path)


def test_validate_names_the_bad_field_and_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "validate", _file(tmp_path, "[scoring]\n\nnope = 1\n")]) == 2
    assert "line 3: scoring.nope: unknown key" in capsys.readouterr().err


def test_publish_previews_then_publishes_and_history_shows_the_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _file(tmp_path, "[scoring]\nrecurrence_points = 3\n")
    assert main(["rules", "preview", rules, "--tenant", "t1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ruleset_version"] == 1 and report["changed"] is False
    assert main(["rules", "publish", rules, "--tenant", "t1", "--yes"]) == 0
    assert "published version 1" in capsys.readouterr().out
    assert main(["rules", "history", "--tenant", "t1", "--diff", "0", "1"]) == 0
    diff = capsys.readouterr().out
    assert "-recurrence_points = 2" in diff and "+recurrence_points = 3" in diff
    assert main(["rules", "show", "--tenant", "t1"]) == 0
    assert "recurrence_points = 3" in capsys.readouterr().out


def test_publish_without_yes_off_a_terminal_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    rules = _file(tmp_path, "[scoring]\nrecurrence_points = 3\n")
    assert main(["rules", "publish", rules, "--tenant", "t1"]) == 1
    capsys.readouterr()
    assert main(["rules", "history", "--tenant", "t1", "--diff", "0", "1"]) == 2


def test_operators_are_created_listed_and_removed_without_their_password_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELIOS_OPERATOR_PASSWORD", "correct horse battery")
    assert main(["operators", "create", "ops-ana"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["name"] == "ops-ana" and created["created_by"].startswith("cli:")
    assert main(["operators", "create", "ops-ana"]) == 1
    assert "already exists" in capsys.readouterr().out
    assert main(["operators", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ops-ana" in listed and "argon2" not in listed
    assert main(["operators", "remove", "ops-ana"]) == 0
    capsys.readouterr()
    assert main(["operators", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_admin_help_says_it_is_internal_tooling(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["admin", "--help"])
    assert "internal tooling" in capsys.readouterr().out
