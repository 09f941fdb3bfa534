"""How refusals reach clients: payload `errors` for mutations, coded GraphQL errors for queries."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import DomainError


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


class CodedErrors(MaskErrors):
    """Unexpected errors become 'Unexpected error.' with code INTERNAL (no stack, no message);
    domain refusals keep their message and carry their code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._unexpected, error_message="Unexpected error.")

    @staticmethod
    def _unexpected(error: GraphQLError) -> bool:
        return (
            error.original_error is not None
            and _domain_error(error) is None
            and not (isinstance(error.original_error, GraphQLError))
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in super()._process_errors(errors):
            domain = _domain_error(error)
            if domain is not None:
                error.extensions = {**(error.extensions or {}), "code": domain.code.value}
                if domain.field:
                    error.extensions["field"] = domain.field
            processed.append(error)
        return processed
