"""Every runbook page has the parts an operator needs, and a drill that runs its commands."""

from __future__ import annotations

import re

import pytest
from harness import REPO, RUNBOOKS, Runbook

SECTIONS = ("## Symptoms", "## Impact", "## Diagnosis", "## Recovery", "## Verify", "## Prevention")
PAGES = sorted(path.stem for path in RUNBOOKS.glob("*.md") if path.stem != "index")
DRILL_FILES = {
    path.name: path.read_text() for path in (REPO / "tests" / "drills").glob("test_*.py")
}


def test_there_is_a_runbook_for_every_failure_mode_the_alerts_name() -> None:
    assert len(PAGES) >= 14
    index = (RUNBOOKS / "index.md").read_text()
    for page in PAGES:
        assert f"({page}.md)" in index, f"runbooks/index.md does not list {page}"


@pytest.mark.parametrize("page", PAGES)
def test_a_runbook_page_has_every_section_and_commands_marked_for_its_drill(page: str) -> None:
    runbook = Runbook(page)
    missing = [section for section in SECTIONS if section not in runbook.text]
    assert not missing, f"{page}.md lacks {missing}"
    assert runbook.blocks, f"{page}.md has no block marked <!-- drill: … -->"
    drills = [text for text in DRILL_FILES.values() if f'Runbook("{page}")' in text]
    assert drills, f"no drill in tests/drills/ runs {page}.md"
    # Every block marked for the drill is run by it (a marked block nobody runs proves nothing).
    for tag in runbook.blocks:
        ran = any(re.search(rf'\.(run|start)\(\s*"{tag}"', text) for text in drills)
        assert ran, f"{page}.md [{tag}] is marked for the drill but its drill never runs it"
