"""In-process adapters: no server needed (the embedded default and tests)."""
