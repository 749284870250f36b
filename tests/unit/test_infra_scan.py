"""checkov finds no failed check in infra/: every finding is fixed, or skipped in the HCL with
its reason (``#checkov:skip=ID:reason``), which this test also requires.

checkov lives in a virtualenv of its own (its pins clash with the project's): the one at
$HELIOS_CHECKOV_VENV, else /opt/checkov-venv, else ~/.cache/helios/checkov-venv-<version>,
created on first use (about a minute, then cached).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
CHECKOV_VERSION = "3.3.30"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _checkov() -> Path:
    candidates = [
        os.environ.get("HELIOS_CHECKOV_VENV", ""),
        "/opt/checkov-venv",
        str(Path.home() / ".cache" / "helios" / f"checkov-venv-{CHECKOV_VERSION}"),
    ]
    for venv in filter(None, candidates):
        if (Path(venv) / "bin" / "checkov").exists():
            return Path(venv) / "bin" / "checkov"
    venv = Path(candidates[-1])
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
        check=True,
        timeout=800,
    )
    return venv / "bin" / "checkov"


def test_checkov_finds_no_failed_check_in_infra() -> None:
    result = subprocess.run(
        [str(_checkov()), "-d", str(INFRA_DIR), "--framework", "terraform", "--compact",
         "--skip-download", "--quiet", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert sum(report["summary"]["passed"] for report in reports) > 200


def test_every_checkov_skip_gives_a_reason() -> None:
    skips = [
        (path.relative_to(INFRA_DIR), line.strip())
        for path in INFRA_DIR.rglob("*.tf")
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips
    for path, line in skips:
        assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+:.{20,}", line), (path, line)
