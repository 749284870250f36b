"""Replay and audit: verify the log, explain an alert, try other rules against history.

Every module here reads the event store and re-runs the pure domain; none of them writes.
The public entry points are re-exported by ``helios.replay``.
"""
