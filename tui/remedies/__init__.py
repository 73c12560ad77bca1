"""Remedies for out-of-memory: one table, pure functions from one config to the next, the ladder."""
