"""A keyring in a JSON file only its owner can read: the credentials shown once on first start."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path


class PrivateJsonFile:
    """String pairs kept in a 0600 JSON file, replaced whole on each write."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, str]:
        """What the file holds ({} when there is no file)."""
        if not self.path.exists():
            return {}
        loaded: dict[str, str] = json.loads(self.path.read_text())
        return loaded

    def write(self, details: Mapping[str, str]) -> None:
        """Replace the file with ``details``: written to a new 0600 file, then renamed over
        the old one, so no reader sees half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(dict(details), handle, indent=2)
        os.replace(partial, self.path)
