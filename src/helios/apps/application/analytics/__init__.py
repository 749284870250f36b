"""Analytics: decisions flattened into facts, aggregated, compared over time, explained.

``facts`` turns a decision message into a fact; ``aggregates`` and ``trends`` query the
analytics store; ``insights`` ranks what is worth changing (with a what-if of the change);
``documents`` assembles what the worker publishes to the read models for the API.
"""
