"""Helios: one trustworthy, prioritised, auditable record from noisy alert streams."""

__version__ = "0.1.0"
