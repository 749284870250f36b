"""The ingestion API (Litestar): PagerDuty's Events API v2, source webhooks, operations.

``helios.apps.http.app:create_app(services)`` builds the app from opened services; it opens
nothing itself, so ``helios api`` and ``helios up`` can mount it the same way.
"""
