"""Database ids as clients give them: positive, within PostgreSQL's bigint (core/bounds.py)."""

from __future__ import annotations

from core.bounds import valid_id
from domain.errors import invalid


def parse_id(raw: int | str, field_name: str) -> int:
    """A database id from client input, or a VALIDATION error naming the field."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(field_name, "not a valid id") from None
    if not valid_id(value):
        raise invalid(field_name, "not a valid id")
    return value
