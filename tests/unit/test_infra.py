"""The Terraform configuration in infra/ is formatted, valid, and passes its own tests.

Runs entirely offline: the AWS provider comes from the image's filesystem mirror
(infra/ci.terraformrc) and `terraform test` uses a mocked provider, so no AWS account is
touched. Everything runs in a temporary copy of infra/, so no .terraform directory, lock file
or state ever lands in the repository.

A missing `terraform` binary or provider mirror skips the test on a developer's machine and
fails it under HELIOS_REQUIRE_SERVICES=1 (CI), like the tests that need a server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from services import REQUIRE_SERVICES_VAR, services_required

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
CLI_CONFIG = INFRA_DIR / "ci.terraformrc"
PROVIDER_MIRROR = Path("/opt/tf-plugins")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _require_terraform() -> str:
    terraform = shutil.which("terraform")
    missing = []
    if terraform is None:
        missing.append("the terraform binary is not on PATH")
    if not PROVIDER_MIRROR.is_dir():
        missing.append(f"the provider mirror {PROVIDER_MIRROR} does not exist")
    if not missing:
        assert terraform is not None
        return terraform
    reason = "; ".join(missing)
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_SERVICES_VAR}=1)")
    pytest.skip(reason)


def _run(terraform: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [terraform, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"terraform {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


def test_terraform_fmt_validate_and_test(tmp_path: Path) -> None:
    terraform = _require_terraform()
    work = tmp_path / "infra"
    shutil.copytree(
        INFRA_DIR,
        work,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(work / "ci.terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        # Plugin cache and data dir inside the temporary copy, never in the repository or $HOME.
        "TF_DATA_DIR": str(work / ".terraform"),
    }
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    env.pop("TF_WORKSPACE", None)

    _run(terraform, ["fmt", "-check", "-recursive", "-diff"], work, env)
    _run(terraform, ["init", "-backend=false", "-no-color"], work, env)
    _run(terraform, ["validate", "-no-color"], work, env)
    _run(terraform, ["test", "-no-color"], work, env)


def test_ci_config_uses_the_offline_mirror() -> None:
    text = CLI_CONFIG.read_text()
    assert "filesystem_mirror" in text
    assert str(PROVIDER_MIRROR) in text
