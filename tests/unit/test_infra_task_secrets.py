"""Every ECS task definition of infra/ that runs Helios gets the settings every process needs
from Secrets Manager (HELIOS_STORE_URL, HELIOS_SECRETS_KEK): a service added later without them
would start with no store or, over PostgreSQL, refuse to start for want of the shared KEK.
``infra/tests/platform.tftest.hcl`` checks the rendered container definitions of the services
it names; this check also catches a service it does not name yet."""

from __future__ import annotations

import re
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
MODULE = re.compile(r'^module "(?P<name>[^"]+)" \{\n(?P<body>.*?)^\}', re.MULTILINE | re.DOTALL)


def service_modules() -> dict[str, str]:
    """The body of each root module block built from ./modules/service, by module name."""
    found: dict[str, str] = {}
    for path in sorted(INFRA_DIR.glob("*.tf")):
        for match in MODULE.finditer(path.read_text()):
            if re.search(r'source\s*=\s*"\./modules/service"', match["body"]):
                found[match["name"]] = match["body"]
    return found


def test_the_services_of_the_configuration_are_found() -> None:
    assert {"api", "worker", "admin", "migrate"} <= set(service_modules())


def test_every_helios_task_gets_the_shared_process_secrets() -> None:
    missing = [
        name
        for name, body in service_modules().items()
        if not re.search(r"secrets\s*=\s*(merge\()?local\.process_secrets\b", body)
    ]
    assert missing == []


def test_the_process_secrets_carry_the_store_url_and_the_kek_secret() -> None:
    main = (INFRA_DIR / "main.tf").read_text()
    block = re.search(r"process_secrets = \{(?P<body>.*?)\}", main, re.DOTALL)
    assert block is not None
    assert re.search(r"HELIOS_SECRETS_KEK\s*=\s*aws_secretsmanager_secret\.kek\.arn", block["body"])
    assert re.search(r"HELIOS_STORE_URL\s*=\s*module\.data\.store_url_secret_arn", block["body"])
