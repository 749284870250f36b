"""Configuration from environment variables: the one table of every setting.

| variable | default | meaning |
| --- | --- | --- |
| HELIOS_DATA_DIR | .helios | where the embedded default keeps its files |
| HELIOS_STORE_URL | sqlite:<data dir>/helios.db | memory://, sqlite:path or postgresql://… |
| HELIOS_QUEUE | embedded | ingest queue: ``embedded`` (SQLite file) or ``sqs`` |
| HELIOS_SQS_ENDPOINT_URL | (AWS) | an SQS-compatible endpoint, e.g. http://127.0.0.1:55005 |
| HELIOS_SQS_PREFIX | helios- | queue name prefix (the same names Terraform creates) |
| AWS_REGION / AWS_DEFAULT_REGION | us-east-1 | SQS region |
| HELIOS_REDIS_URL | (none: in-process) | Redis for rate limits and idempotency keys |
| HELIOS_HTTP_HOST | 127.0.0.1 | API bind address |
| HELIOS_HTTP_PORT | 8080 | API port |
| HELIOS_SMTP_HOST / HELIOS_SMTP_PORT | (none) / 25 | SMTP relay for notifications; none: log only |
| HELIOS_SMTP_FROM | helios@localhost | sender address of notifications |
| HELIOS_LOG_FORMAT | console on a terminal, else json | ``json`` or ``console`` |
| HELIOS_LOG_LEVEL | info | debug, info, warning, error |
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs


@attrs.frozen(kw_only=True)
class Settings:
    data_dir: Path = Path(".helios")
    store_url: str = ""
    queue: str = "embedded"
    sqs_endpoint_url: str | None = None
    sqs_prefix: str = "helios-"
    aws_region: str = "us-east-1"
    redis_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "helios@localhost"
    log_format: str = "json"
    log_level: str = "info"

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:{self.data_dir / 'helios.db'}"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment (see the module's table).

        Raises:
            ValueError: a setting has an invalid value (the message names it).
        """
        values = os.environ if env is None else env
        queue = values.get("HELIOS_QUEUE", "embedded")
        if queue not in ("embedded", "sqs"):
            raise ValueError(f"HELIOS_QUEUE must be 'embedded' or 'sqs', not {queue!r}")
        log_format = values.get("HELIOS_LOG_FORMAT") or (
            "console" if sys.stderr.isatty() else "json"
        )
        if log_format not in ("json", "console"):
            raise ValueError(f"HELIOS_LOG_FORMAT must be 'json' or 'console', not {log_format!r}")
        return cls(
            data_dir=Path(values.get("HELIOS_DATA_DIR", ".helios")),
            store_url=values.get("HELIOS_STORE_URL", ""),
            queue=queue,
            sqs_endpoint_url=values.get("HELIOS_SQS_ENDPOINT_URL") or None,
            sqs_prefix=values.get("HELIOS_SQS_PREFIX", "helios-"),
            aws_region=values.get("AWS_REGION") or values.get("AWS_DEFAULT_REGION") or "us-east-1",
            redis_url=values.get("HELIOS_REDIS_URL") or None,
            http_host=values.get("HELIOS_HTTP_HOST", "127.0.0.1"),
            http_port=_int(values, "HELIOS_HTTP_PORT", 8080),
            smtp_host=values.get("HELIOS_SMTP_HOST") or None,
            smtp_port=_int(values, "HELIOS_SMTP_PORT", 25),
            smtp_from=values.get("HELIOS_SMTP_FROM", "helios@localhost"),
            log_format=log_format,
            log_level=values.get("HELIOS_LOG_LEVEL", "info").lower(),
        )


def _int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None
