"""Secret stores (memory, SQLite, PostgreSQL), the local key-encryption key and the envelope
vault over them (``helios.ports.secrets``)."""
