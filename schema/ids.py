"""Global ids (`node(id)`) and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii

from core.bounds import valid_id
from domain.errors import DomainError, ErrorCode
from domain.services.search import MAX_RANK

# URL-safe base64 without padding, as base64.urlsafe_b64encode gives it but one call less: a
# page of fifty makes 150 ids and cursors.
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _encoded(text: str) -> str:
    return (
        binascii.b2a_base64(text.encode(), newline=False).translate(_URL_SAFE).decode().rstrip("=")
    )


def to_global_id(type_name: str, pk: int) -> str:
    return _encoded(f"{type_name}:{pk}")


def from_global_id(value: str) -> tuple[str, int] | None:
    """(type name, database id) of a global id, or None when it is not one of ours."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not type_name or not valid_id(pk):
        return None
    return type_name, pk


def expect_id(value: str, type_name: str, field: str) -> int:
    """The database id behind a global id of `type_name`, or a VALIDATION error on `field`."""
    decoded = from_global_id(value)
    if decoded is None or decoded[0] != type_name:
        raise DomainError(ErrorCode.VALIDATION, f"not a {type_name} id", [field])
    return decoded[1]


def to_cursor(pk: int, rank: int | None = None) -> str:
    """The cursor of a row by its id, or of a ranked page's row by its rank and id."""
    return _encoded(f"k:{pk}" if rank is None else f"r:{rank}:{pk}")


def from_cursor(value: str | None) -> int | None:
    """The keyset position of a cursor; a malformed cursor is a VALIDATION error on `after`
    (so is a ranked page's cursor: this list is by id alone)."""
    pk, rank = keyset_position(value)
    if rank is not None:
        raise DomainError(ErrorCode.VALIDATION, "a cursor of another list", ["after"])
    return pk


def keyset_position(value: str | None) -> tuple[int | None, int | None]:
    """(id, rank) of a cursor, the rank None unless it came from a ranked page; a malformed
    cursor is a VALIDATION error on `after`."""
    if value is None:
        return None, None
    try:
        padded = value + "=" * (-len(value) % 4)
        prefix, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if prefix == "k" and valid_id(int(raw)):
            return int(raw), None
        rank, _, pk = raw.partition(":")
        if prefix == "r" and valid_id(int(pk)) and 0 <= int(rank) <= MAX_RANK:
            return int(pk), int(rank)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise DomainError(ErrorCode.VALIDATION, "not a valid cursor", ["after"])
