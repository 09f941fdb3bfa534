"""The id of the request (or job) being served, carried into the work it causes.

The API sets it per request; services copy it into outbox rows, and workers log it, so one
change can be followed from the request into every job it caused."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("lapor_request_id", default=None)
