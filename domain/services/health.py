"""Whether the database can be reached: a refusal every layer words the same way."""

from __future__ import annotations

from models.db import is_unavailable

UNAVAILABLE = "UNAVAILABLE"
UNAVAILABLE_MESSAGE = "The service cannot reach its database right now: try again shortly."
# Seconds a client should wait before trying again (the Retry-After of a 503).
RETRY_AFTER_SECONDS = 2


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` comes from a database that is down or restarting, not from a bug."""
    return is_unavailable(error)
