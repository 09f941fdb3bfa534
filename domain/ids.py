"""Database ids as clients give them: positive, within PostgreSQL's bigint."""

from __future__ import annotations

from domain.errors import invalid

MAX_ID = 2**63 - 1


def valid_id(value: int) -> bool:
    """Whether `value` can be the id of a row."""
    return 0 < value <= MAX_ID


def parse_id(raw: int | str, field_name: str) -> int:
    """A database id from client input, or a VALIDATION error naming the field."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(field_name, "not a valid id") from None
    if not valid_id(value):
        raise invalid(field_name, "not a valid id")
    return value
