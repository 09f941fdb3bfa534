"""Every argument of an operation, checked before anything runs (docs/adr/0024).

One walk over the operation's fields (fragments included, each once) reads each argument's
value, a literal or a variable, by its GraphQL type, and refuses what the service could not
even represent:

- every String and ID: at most the longest text the service accepts, no NUL, valid Unicode;
- every Int: within GraphQL's 32 bits (JSON may carry any integer); every Float: finite;
- every list: at most a page of items (`max_page_size`);
- every DateTime: with a time zone, and an instant PostgreSQL holds once in UTC.

Such a value is refused as a request error: code VALIDATION, `extensions.field` the argument's
path (e.g. ["filter", "updatedAfter"]), HTTP 400 under application/graphql-response+json.
What is representable is the rules' to judge where the argument is parsed: a page size or a
cursor by the connection field (`schema.common.page_request`, a VALIDATION field error), a
global id by `schema.ids.expect_id`, a title's length or a rating by the use case (in the
mutation's payload). A value of another type altogether (a string for an Int) is GraphQL's
own coercion's to refuse (GRAPHQL_VALIDATION_FAILED).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    value_from_ast_untyped,
)

from core.bounds import instant_problem, text_problem
from core.settings import Settings
from domain.errors import ErrorCode

# GraphQL's Int is a signed 32-bit integer.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class InputBounds:
    """The bounds an argument's value must keep, from settings."""

    max_page_size: int
    # The longest text any argument may carry: the longest the service stores.
    max_text_length: int

    @classmethod
    def of(cls, settings: Settings) -> InputBounds:
        return cls(
            max_page_size=settings.max_page_size,
            max_text_length=max(
                settings.title_max_length, settings.body_max_length, settings.message_max_length
            ),
        )


@dataclass(frozen=True)
class OutOfBounds:
    """The first argument out of bounds: what is wrong, and the argument's path."""

    message: str
    path: tuple[str, ...]


class _OutOfBounds(Exception):
    def __init__(self, path: list[str], message: str) -> None:
        super().__init__(message)
        self.found = OutOfBounds(message, tuple(path))


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The fragments of a document by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def raw_values(
    operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The operation's variables as the client sent them, defaults filled in (uncoerced)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            values[definition.variable.name.value] = value_from_ast_untyped(
                definition.default_value
            )
    if isinstance(variables, Mapping):
        values.update(variables)
    return values


class _Walker:
    """Checks the arguments of one operation; raises _OutOfBounds at the first value out of
    bounds."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
        bounds: InputBounds,
    ) -> None:
        self.schema = schema
        self.bounds = bounds
        self.fragments = fragments_of(document)
        self.walked: set[str] = set()
        self.values = raw_values(operation, variables)

    def selections(self, selections: SelectionSetNode, parent: GraphQLNamedType | None) -> None:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                self.field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                self.selections(node.selection_set, inner)
            elif isinstance(node, FragmentSpreadNode):
                # Arguments do not depend on where a fragment is spread: walk each one once.
                name = node.name.value
                definition = self.fragments.get(name)
                if definition is not None and name not in self.walked:
                    self.walked.add(name)
                    inner = self.schema.get_type(definition.type_condition.name.value)
                    self.selections(definition.selection_set, inner)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> None:
        found = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            found = parent.fields.get(node.name.value)
        if found is None:
            return  # __typename, introspection, or a field validation already refused
        for argument in node.arguments or ():
            name = argument.name.value
            definition = found.args.get(name)
            if definition is None:
                continue
            value = value_from_ast_untyped(argument.value, self.values)
            if value is Undefined:
                continue
            self.value(value, definition.type, [name])
        if node.selection_set is not None:
            inner = found.type
            while isinstance(inner, GraphQLNonNull | GraphQLList):
                inner = inner.of_type
            self.selections(node.selection_set, inner)

    def value(self, value: Any, type_: GraphQLInputType, path: list[str]) -> None:
        """Check a raw value of `type_`; values of another type are GraphQL's to refuse."""
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if value is None:
            return
        if isinstance(type_, GraphQLList):
            items = value if isinstance(value, list) else [value]
            if len(items) > self.bounds.max_page_size:
                most = self.bounds.max_page_size
                raise _OutOfBounds(path, f"{'.'.join(path)} takes at most {most} items")
            for item in items:
                self.value(item, type_.of_type, path)
        elif isinstance(type_, GraphQLInputObjectType):
            if isinstance(value, Mapping):
                for name, field in type_.fields.items():
                    if name in value:
                        self.value(value[name], field.type, [*path, name])
        elif isinstance(type_, GraphQLScalarType):
            self.scalar(value, type_, path)

    def scalar(self, value: Any, type_: GraphQLScalarType, path: list[str]) -> None:
        name = ".".join(path)
        if type_.name in ("String", "ID") and isinstance(value, str):
            problem = text_problem(value, self.bounds.max_text_length)
            if problem is not None:
                raise _OutOfBounds(path, f"{name} {problem}")
        elif type_.name == "Int" and _number(value):
            # JSON parsers hand integers beyond 64 bits over as floats: still integers here.
            if _integral(value) and not INT_MIN <= value <= INT_MAX:
                raise _OutOfBounds(path, f"{name} must be between {INT_MIN} and {INT_MAX}")
        elif type_.name == "Float" and _number(value) and not math.isfinite(value):
            raise _OutOfBounds(path, f"{name} must be a finite number")
        elif type_.name == "DateTime" and isinstance(value, str):
            try:
                moment = type_.parse_value(value)
            except Exception:  # not a date-time at all: GraphQL's coercion says so
                return
            if isinstance(moment, datetime):
                problem = instant_problem(moment)
                if problem is not None:
                    raise _OutOfBounds(path, f"{name} {problem}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integral(value: float) -> bool:
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())


def inputs_out_of_bounds(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    bounds: InputBounds,
) -> OutOfBounds | None:
    """The first argument of the operation out of bounds, if any."""
    root = schema.get_root_type(operation.operation)
    try:
        _Walker(schema, document, operation, variables, bounds).selections(
            operation.selection_set, root
        )
    except _OutOfBounds as error:
        return error.found
    return None


def out_of_bounds(found: OutOfBounds) -> GraphQLError:
    """The request error that refuses an argument out of bounds (a new one each time: errors
    are changed on their way out)."""
    return GraphQLError(
        found.message,
        extensions={"code": ErrorCode.VALIDATION.value, "field": list(found.path)},
    )


def check_inputs(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    bounds: InputBounds,
) -> None:
    """Raise a VALIDATION GraphQL error naming the first argument out of bounds, if any."""
    found = inputs_out_of_bounds(schema, document, operation, variables, bounds)
    if found is not None:
        raise out_of_bounds(found)
