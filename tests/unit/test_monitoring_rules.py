"""Helios's alert rules about itself: valid, unit-tested, and each linked to its runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "infra" / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install Debian's prometheus package (.ci/run does)"
    return found


def _alerts() -> list[tuple[str, str]]:
    """(alert name, runbook_url) of every rule, read from the file's text."""
    text = RULES.read_text(encoding="utf-8")
    names = re.findall(r"^\s*- alert: (\S+)", text, flags=re.MULTILINE)
    links = re.findall(r"runbook_url: \"(.+)\"", text)
    assert len(names) == len(links), "every alert needs exactly one runbook_url"
    return list(zip(names, links, strict=True))


def test_the_rules_pass_promtools_check(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested() -> None:
    tested = set(re.findall(r"alertname: (\S+)", RULE_TESTS.read_text(encoding="utf-8")))
    untested = sorted(name for name, _link in _alerts() if name not in tested)
    assert not untested, f"add a promtool test for: {untested}"


def test_every_alert_links_a_runbook_page_that_exists() -> None:
    alerts = _alerts()
    assert len(alerts) >= 10
    for name, link in alerts:
        match = re.fullmatch(
            r"\{\{ \$externalLabels\.docs_url \}\}/runbooks/([a-z0-9-]+)\.html", link
        )
        assert match, f"{name}: runbook_url must be docs_url + /runbooks/<page>.html, not {link}"
        page = REPO / "docs" / "runbooks" / f"{match.group(1)}.md"
        assert page.is_file(), f"{name} links a runbook that does not exist: {page}"
