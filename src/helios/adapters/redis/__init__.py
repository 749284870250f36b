"""Redis adapters: rate limiting and idempotency keys shared by every API instance."""
