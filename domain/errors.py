"""The refusals the domain can give; each has a stable code that clients switch on."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    CONFLICT = "CONFLICT"
    TRANSFER_CAP = "TRANSFER_CAP"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    ALREADY_DONE = "ALREADY_DONE"
    DEADLINE_NOT_PASSED = "DEADLINE_NOT_PASSED"
    CONSENT_MISSING = "CONSENT_MISSING"
    RATE_LIMITED = "RATE_LIMITED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    # Uploaded files (domain/media.py): the type its bytes declare is not accepted; it cannot
    # be decoded (corrupt, truncated, encrypted); it has too many pixels or bytes.
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    # More files than one change or one report may bring.
    TOO_MANY_FILES = "TOO_MANY_FILES"


class DomainError(Exception):
    """A use case refused: nothing was written. `field` names the input at fault, if any;
    `retry_after`, for RATE_LIMITED, the seconds to wait before trying again."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"DomainError({self.code.value}, {self.message!r}, field={self.field!r})"


def not_found(what: str, field: str | None = None) -> DomainError:
    """The object does not exist, or the actor may not know that it does."""
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", [field] if field else None)


def forbidden(message: str = "you may not do this") -> DomainError:
    return DomainError(ErrorCode.FORBIDDEN, message)


def invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, message, [field])
