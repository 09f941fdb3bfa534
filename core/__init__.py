"""Configuration and cross-cutting plumbing every layer may use: settings, the request id of
what is being served, JSON logs, metrics, and the Redis channels' messages. It imports nothing
of the project (tests/test_architecture.py holds it to that)."""
