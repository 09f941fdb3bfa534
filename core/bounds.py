"""What the service accepts from clients, in one place: the bounds of ids, instants and text
that PostgreSQL can hold, and the lengths of what people type.

Bounds an operator may change (page sizes, the lengths of a title, a body, a message) are
settings (core/settings.py); every other bound is here, and the models' column lengths, the
use cases and the edges (schema/inputs.py for GraphQL, api/open311.py, tokens) all read them
from here (docs/adr/0024). The checks only say what is wrong: each caller refuses in its own
protocol's words (a DomainError, a GraphQL error, an Open311 error).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# PostgreSQL's bigint, the type of every id.
MAX_ID = 2**63 - 1

# Instants that both PostgreSQL (timestamptz) and Python hold once converted to UTC: an
# offset can push a valid-looking local time (0001-01-01T00:00+14:00) out of them.
EARLIEST_INSTANT = datetime.min.replace(tzinfo=UTC)
LATEST_INSTANT = datetime.max.replace(tzinfo=UTC)

# Lengths of what people type (the models' columns use the same numbers).
EMAIL_MAX_LENGTH = 254  # RFC 5321's path limit
NAME_MAX_LENGTH = 200
PHONE_MAX_LENGTH = 32
ADDRESS_MAX_LENGTH = 500
CODE_MAX_LENGTH = 32  # region, agency and category codes
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
SEARCH_MAX_LENGTH = 200

# A query parameter of the read-only HTTP endpoints (Open311): codes, lists of them, dates.
PARAMETER_MAX_LENGTH = 2000

# How many agencies one verification may forward to.
MAX_AGENCIES_AT_ONCE = 10

# A client's idempotency key: what Stripe and the IETF draft allow, printable ASCII.
IDEMPOTENCY_KEY_MAX_LENGTH = 255
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")


def valid_id(value: int) -> bool:
    """Whether `value` can be the id of a row."""
    return 0 < value <= MAX_ID


def text_problem(value: str, max_length: int) -> str | None:
    """Why `value` cannot be stored as text of at most `max_length` characters, or None.

    PostgreSQL's text holds no NUL character, and UTF-8 has no lone surrogates (a JSON
    escape like \\ud800 can make one)."""
    if len(value) > max_length:
        return f"must be at most {max_length:,} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None


def instant_problem(value: datetime) -> str | None:
    """Why `value` cannot be an instant PostgreSQL stores, or None: it needs a time zone, and
    must stay within years 1 to 9999 once in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must carry a time zone (Z or an offset like +07:00)"
    try:
        value.astimezone(UTC)
    except OverflowError:
        return "is out of range: between years 1 and 9999 in UTC"
    return None


def idempotency_key_problem(value: str) -> str | None:
    """Why `value` cannot be an idempotency key, or None."""
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        return (
            f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without "
            "spaces, e.g. a UUID"
        )
    return None


def shifted(value: datetime, seconds: float) -> datetime:
    """`value` moved by `seconds`, held within the instants PostgreSQL stores."""
    try:
        return value + timedelta(seconds=seconds)
    except OverflowError:
        return LATEST_INSTANT if seconds > 0 else EARLIEST_INSTANT
