"""How refusals reach clients: payload `errors` for mutations, coded GraphQL errors for queries."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from core.logs import log_internal
from domain.errors import DomainError
from domain.services.health import UNAVAILABLE, UNAVAILABLE_MESSAGE, database_unavailable

log = logging.getLogger("lapor.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
INVALID = "GRAPHQL_VALIDATION_FAILED"


def as_graphql_error(error: DomainError) -> GraphQLError:
    """A GraphQL error carrying the domain's stable code (never masked)."""
    extensions: dict[str, object] = {"code": error.code.value}
    if error.field:
        extensions["field"] = error.field
    return GraphQLError(error.message, extensions=extensions)


def _domain_error(error: GraphQLError) -> DomainError | None:
    original = error.original_error
    while isinstance(original, GraphQLError) and original is not error:
        error, original = original, original.original_error
    return original if isinstance(original, DomainError) else None


def _failure(error: GraphQLError) -> BaseException | None:
    """What went wrong beneath a GraphQL error that is not a refusal, if anything did."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError) or _domain_error(error):
        return None
    return original


def is_unavailable(error: GraphQLError) -> bool:
    """The database did not answer: the client is told to try again, nothing is wrong."""
    failure = _failure(error)
    return failure is not None and database_unavailable(failure)


def is_unexpected(error: GraphQLError) -> bool:
    """A bug, not a refusal nor an outage: it is logged with its stack and masked for clients."""
    failure = _failure(error)
    return failure is not None and not database_unavailable(failure)


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log what clients will see masked; refusals and validation errors are not logged, and an
    unreachable database with one line and no stack."""
    for error in errors:
        if is_unexpected(error):
            assert error.original_error is not None  # is_unexpected says there is one
            log_internal(log, "unexpected error at %s", error.path, error=error.original_error)
        elif is_unavailable(error):
            log.warning("database unavailable at %s: %s", error.path, error.original_error)


def mark_unavailable(error: GraphQLError) -> None:
    error.message = UNAVAILABLE_MESSAGE
    error.extensions = {"code": UNAVAILABLE}


def code_request_errors(errors: list[GraphQLError]) -> None:
    """Give a code to every error raised before execution: GRAPHQL_PARSE_FAILED for syntax
    (and the token limit), GRAPHQL_VALIDATION_FAILED for a validation rule (unknown field,
    depth, aliases, variable values); clients switch on codes, never on messages. A crash
    before execution is masked here, as CodedErrors never sees it (it is logged first)."""
    for error in errors:
        if error.path is not None or (error.extensions or {}).get("code"):
            continue
        if is_unavailable(error):
            mark_unavailable(error)
            continue
        if is_unexpected(error):
            error.message = "Unexpected error."
            error.extensions = {"code": "INTERNAL"}
            continue
        code = PARSE_FAILED if error.message.startswith("Syntax Error") else INVALID
        error.extensions = {**(error.extensions or {}), "code": code}


class CodedErrors(MaskErrors):
    """Unexpected errors become 'Unexpected error.' with code INTERNAL (no stack, no message);
    an unreachable database is UNAVAILABLE; domain refusals keep their message and code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked

    def _process_result(self, result: object) -> None:
        # Strawberry's asks `isinstance(result, <a runtime-checkable Protocol>)`, which walks
        # the protocol's members on every operation (about 8 µs); the attribute is what it means.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in super()._process_errors(errors):
            domain = _domain_error(error)
            if is_unavailable(error):
                mark_unavailable(error)
            elif domain is not None:
                error.extensions = {**(error.extensions or {}), "code": domain.code.value}
                if domain.field:
                    error.extensions["field"] = domain.field
            processed.append(error)
        return processed
