"""Queries run without Strawberry's operation pipeline, by the same steps.

Strawberry's `Schema.execute` makes, for every operation, an execution context, an object of
each extension, its runner and its four stages of hooks, a middleware manager and a result
wrapped twice: about a quarter of what `{ __typename }` costs the service in Python (30 of
107 µs in process), and as much on every other query (docs/adr/0040). A query goes here
first. Its document comes from the same parser's cache within the same token limit, is
validated by the same rules through the same remembered validation, guarded by the same
`guard_operation`, executed by graphql-core with the schema's executor, and its errors are
handled as the pipeline handles them: logged and coded (`LaporSchema.process_errors`), then
masked (`CodedErrors`).

Whatever is not a clean query on its way to execution (a document that does not parse or
validate, an operation that is not a query or not in the document, a guard's refusal) is
answered None: the caller runs it through `Schema.execute`, which answers it as it always has.
The switch that turns compilation off turns this off too (`compiled_execution`): the service
then runs as Strawberry and graphql-core ship, which the differential tests compare it with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
)
from graphql import ExecutionResult as GraphQLResult
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult

from schema.documents import ParsedDocuments, ValidatedDocuments
from schema.errors import CodedErrors

# What a query's text and operation name come to: its document and the name of the operation
# that runs; None when it is left to the pipeline.
_Ready = tuple[DocumentNode, str | None] | None


class PreparedQueries:
    """The lane: documents worked out for the last `size` (text, operation name) pairs."""

    def __init__(
        self,
        schema: strawberry.Schema,
        parsing: ParsedDocuments,
        validation: ValidatedDocuments,
        guard: Callable[[DocumentNode, tuple[str | None, str | None], Any, Any], None],
        size: int,
    ) -> None:
        # graphql-core's schema, the compiling executor and the error handling of `schema`.
        self.schema: GraphQLSchema = schema._schema
        self.executor_class = schema.execution_context_class
        self.process_errors = schema.process_errors
        self.parsing = parsing
        self.validation = validation
        self.rules = parsing.validation_rules()
        self.guard = guard
        self.masking = CodedErrors()
        self.size = size
        self._ready: OrderedDict[tuple[str, str | None], _Ready] = OrderedDict()

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult | None:
        """The query's result, as `Schema.execute` would give it; None when it is the
        pipeline's to run."""
        ready = self._document(query, operation_name)
        if ready is None:
            return None
        document, name = ready
        try:
            self.guard(document, (operation_name, name), variables, context)
        except GraphQLError:  # the pipeline refuses it again, with its own error handling
            return None
        try:
            outcome = execute(
                self.schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=name,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                executor_class=self.executor_class,
                operation_extensions=operation_extensions,
            )
            result = outcome if isinstance(outcome, GraphQLResult) else await outcome
            data, errors = result.data, result.errors
        except Exception as error:  # as the pipeline answers what escaped execution
            data, errors = None, [error if isinstance(error, GraphQLError) else _wrapped(error)]
        if errors:
            self.process_errors(errors)
            errors = self.masking._process_errors(errors)
        return ExecutionResult(data=data, errors=errors or None, extensions={})

    def _document(self, query: str, operation_name: str | None) -> _Ready:
        key = (query, operation_name)
        ready = self._ready
        if key in ready:
            ready.move_to_end(key)
            return ready[key]
        found = ready[key] = self._prepared(query, operation_name)
        while len(ready) > self.size:
            ready.popitem(last=False)
        return found

    def _prepared(self, query: str, operation_name: str | None) -> _Ready:
        try:
            document = self.parsing.parsed(query)
        except GraphQLError:
            return None
        if self.validation.errors(self.schema, document, self.rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        if operation_name is not None:
            return document, operation_name
        # The pipeline's name for an unnamed request: the first operation's (Strawberry's
        # ExecutionContext.operation_name).
        return document, operation.name.value if operation.name else None


def _wrapped(error: Exception) -> GraphQLError:
    return GraphQLError(str(error), original_error=error)
