"""The `lapor` command and the composition root: it starts the servers, the API and the
workers, and nothing of the service imports it (tests/test_architecture.py)."""
