"""Print Helios's OpenAPI document, built from the app itself (no server, no database).

The web app's typed client is generated from it (``scripts/build_app.sh``), so a changed
endpoint breaks the app's type check rather than the app at run time.

    python scripts/openapi_schema.py > web/schema.json
"""

from __future__ import annotations

import json
import sys

from helios.adapters.blobs import MemoryBlobStore
from helios.adapters.memory.limits import InMemoryIdempotencyStore, InMemoryRateLimiter
from helios.apps.composition import Services, open_event_store
from helios.apps.http.app import create_app
from helios.apps.settings import Settings


def main() -> None:
    services = Services(
        settings=Settings(store_url="memory://"),
        store=open_event_store("memory://"),
        queue=None,  # type: ignore[arg-type]  # never called: the app is only read
        blobs=MemoryBlobStore(),
        limiter=InMemoryRateLimiter(),
        idempotency=InMemoryIdempotencyStore(),
    )
    document = create_app(services).openapi_schema.to_schema()
    json.dump(document, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
