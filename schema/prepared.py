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

The executor is made as graphql-core's `execute` makes it (`Executor.build`), from what the
document came to once (its operation and fragments, and what the executor's constructors make
the same for every execution: `CompilingExecutor.executors_of`) and from its variables as
graphql-core coerced them, once for the same values when they are immutable: an inbox's list of
statuses cost a fifth of its page of ten (docs/adr/0042). Each execution gets its own copy of
them.

Whatever is not a clean query on its way to execution (a document that does not parse or
validate, an operation that is not a query or not in the document, a guard's refusal) is
answered None: the caller runs it through `Schema.execute`, which answers it as it always has.
The switch that turns compilation off turns this off too (`compiled_execution`): the service
then runs as Strawberry and graphql-core ship, which the differential tests compare it with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    default_field_resolver,
    default_type_resolver,
    get_operation_ast,
)
from graphql import ExecutionResult as GraphQLResult
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.execute import UNEXPECTED_MULTIPLE_PAYLOADS
from graphql.execution.values import VariableValues, VariableValueSource, get_variable_values
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult

from schema.compiled.executor import CompilingExecutor
from schema.documents import (
    ParsedDocuments,
    ValidatedDocuments,
    json_key,
    own_copy,
    own_value,
    remembered,
    shareable,
)
from schema.errors import CodedErrors

# Variables coerced and kept per operation, for as many sets of values (an inbox is asked for
# a few agencies, statuses and page sizes; a detail page for many codes, each a string).
COERCED_PER_OPERATION = 64


@dataclass(eq=False)
class _Ready:
    """What a query's text and operation name come to, worked out once: the operation that
    runs, its executors (with the document's fragments), and its variables coerced for the
    values seen lately."""

    operation: OperationDefinitionNode
    name: str | None  # the pipeline's name for it
    executor: Callable[[Any, VariableValues, Any], CompilingExecutor]  # `executors_of`
    # (Typed as what coercing gives; a refusal, a list of errors, is never kept.)
    coerced: OrderedDict[str, VariableValues | list[GraphQLError]] = field(
        default_factory=OrderedDict
    )


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
        executor_class: Any = schema.execution_context_class
        if not (isinstance(executor_class, type) and issubclass(executor_class, CompilingExecutor)):
            raise TypeError("the lane runs the schema's compiling executor")
        self.executor_class: type[CompilingExecutor] = executor_class
        self.process_errors = schema.process_errors
        self.parsing = parsing
        self.validation = validation
        self.rules = parsing.validation_rules()
        self.guard = guard
        self.masking = CodedErrors()
        self.size = size
        self._ready: OrderedDict[tuple[str, str | None], tuple[DocumentNode, _Ready] | None] = (
            OrderedDict()
        )

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
        found = self._document(query, operation_name)
        if found is None:
            return None
        document, ready = found
        try:
            self.guard(document, (operation_name, ready.name), variables, context)
        except GraphQLError:  # the pipeline refuses it again, with its own error handling
            return None
        values = self._variables(ready, variables or {})
        if values is None:  # the pipeline answers the variables' errors
            return None
        try:
            executor = ready.executor(context, values, operation_extensions)
            outcome = executor.execute_operation()
            result = outcome if isinstance(outcome, GraphQLResult) else await outcome
            if not isinstance(result, GraphQLResult):  # @defer or @stream: as `execute` says
                raise GraphQLError(UNEXPECTED_MULTIPLE_PAYLOADS)
            data, errors = result.data, result.errors
        except Exception as error:  # as the pipeline answers what escaped execution
            data, errors = None, [error if isinstance(error, GraphQLError) else _wrapped(error)]
        if errors:
            self.process_errors(errors)
            errors = self.masking._process_errors(errors)
        return ExecutionResult(data=data, errors=errors or None, extensions={})

    def _variables(self, ready: _Ready, raw: dict[str, Any]) -> VariableValues | None:
        """The variables coerced as graphql-core coerces them, once for the same values when
        they are immutable (an execution gets its own copy); None when they are refused."""
        try:
            key = json_key(raw)
        except TypeError:  # a value JSON does not hold: coerced each time
            coerced = self._coerced(ready, raw)
            return None if isinstance(coerced, list) else coerced
        found, shared = remembered(
            ready.coerced, key, COERCED_PER_OPERATION, _kept, self._coerced, ready, raw
        )
        if isinstance(found, list):  # refused
            return None
        if not shared:
            return found
        return VariableValues(
            {
                name: VariableValueSource(source.signature, own_value(source.value))
                for name, source in found.sources.items()
            },
            own_copy(found.coerced),
        )

    def _coerced(self, ready: _Ready, raw: dict[str, Any]) -> VariableValues | list[GraphQLError]:
        """The variables as graphql-core coerces them, or its errors."""
        variables = ready.operation.variable_definitions or ()
        return get_variable_values(self.schema, variables, raw, max_errors=50)

    def _document(
        self, query: str, operation_name: str | None
    ) -> tuple[DocumentNode, _Ready] | None:
        key = (query, operation_name)
        ready = self._ready
        if key in ready:
            ready.move_to_end(key)
            return ready[key]
        found = ready[key] = self._prepared(query, operation_name)
        while len(ready) > self.size:
            ready.popitem(last=False)
        return found

    def _prepared(
        self, query: str, operation_name: str | None
    ) -> tuple[DocumentNode, _Ready] | None:
        try:
            document = self.parsing.parsed(query)
        except GraphQLError:
            return None
        if self.validation.errors(self.schema, document, self.rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        definitions: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                if definition.variable_definitions:  # fragment variables: the pipeline's
                    return None
                definitions[definition.name.value] = definition
        # Its executors as graphql-core's `execute` builds one (`Executor.build`), from what the
        # document came to once; each execution's with its own context and variables.
        executor = self.executor_class.executors_of(
            schema=self.schema,
            fragment_definitions=definitions,
            fragments={name: FragmentDetails(d, None) for name, d in definitions.items()},
            root_value=None,
            operation=operation,
            field_resolver=default_field_resolver,
            type_resolver=default_type_resolver,
            subscribe_field_resolver=default_field_resolver,
            is_awaitable=optimized_is_awaitable,
        )
        # Unnamed, the pipeline names it after the first operation (Strawberry's
        # ExecutionContext.operation_name).
        name = operation_name or (operation.name.value if operation.name else None)
        return document, _Ready(operation, name, executor)


def _kept(coerced: VariableValues | list[GraphQLError]) -> bool:
    """Whether coerced variables may be remembered for other executions: not a refusal, and
    `shareable` as given and as coerced."""
    if isinstance(coerced, list):
        return False
    return all(shareable(v) for v in coerced.coerced.values()) and all(
        s.value is Undefined or shareable(s.value) for s in coerced.sources.values()
    )


def _wrapped(error: Exception) -> GraphQLError:
    return GraphQLError(str(error), original_error=error)
