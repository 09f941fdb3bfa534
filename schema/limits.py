"""What an operation may ask before it runs: its cost, and (in production) introspection.

Both are decided once per operation from the parsed document, never per field (docs/design.md,
"Performance"): the guard is a schema extension with only an `on_execute` hook.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension

from core.settings import Settings
from domain.policy import may_use_console
from schema.documents import json_key
from schema.errors import INVALID
from schema.inputs import (
    InputBounds,
    OutOfBounds,
    fragments_of,
    inputs_out_of_bounds,
    out_of_bounds,
    raw_values,
)

COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
MAX_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True)
class Weight:
    """What a selection asks for: its cost and whether it introspects the schema."""

    cost: int
    introspects: bool = False

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.cost + other.cost, self.introspects or other.introspects)

    def times(self, factor: int) -> Weight:
        return Weight(self.cost * factor, self.introspects)


def _is_connection(type_: GraphQLNamedType) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and "edges" in type_.fields
    )


class _Weigher:
    """Walks one operation. Every field costs 1; a connection's `edges` count `first` times
    (a full page, `full_page`, when `first` is absent or not a number), and so do the items
    of a list with a `first` argument. Fragments are weighed
    once per page context, so nested spreads cannot make the walk itself expensive."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
        full_page: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments_of(document)
        self.values = raw_values(operation, variables)
        self.full_page = full_page
        self.memo: dict[tuple[str, int | None], Weight] = {}

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.values.get(argument.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 0)
        return self.full_page

    def weigh(
        self, selections: SelectionSetNode, parent: GraphQLNamedType, page: int | None
    ) -> Weight:
        """The weight of a selection set of `parent`, once; `page` is set inside a connection."""
        total = Weight(0)
        for node in selections.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, page)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.weigh(node.selection_set, inner or parent, page)
            elif isinstance(node, FragmentSpreadNode):
                total += self.fragment(node.name.value, page)
        return total

    def fragment(self, name: str, page: int | None) -> Weight:
        key = (name, page)
        if key not in self.memo:
            self.memo[key] = Weight(0)
            definition = self.fragments.get(name)
            if definition is not None:
                inner = self.schema.get_type(definition.type_condition.name.value)
                if inner is not None:
                    self.memo[key] = self.weigh(definition.selection_set, inner, page)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None) -> Weight:
        name = node.name.value
        if name in INTROSPECTION_FIELDS:
            definition = SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
            inner = get_named_type(definition.type)
            children = self.weigh(node.selection_set, inner, None) if node.selection_set else None
            return Weight(1, True) + (children or Weight(0))
        found = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            found = parent.fields.get(name)
        if found is None or node.selection_set is None:
            return Weight(1)  # a scalar, __typename, or a field validation already refused
        inner = get_named_type(found.type)
        children = self.weigh(
            node.selection_set, inner, self.page_size(node) if _is_connection(inner) else None
        )
        if page is not None and name == "edges":
            children = children.times(page)
        elif not _is_connection(inner) and "first" in found.args:
            # A list asked by size (similar reports): each of its items is one more answer.
            children = children.times(self.page_size(node))
        return Weight(1) + children


def chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation `operation_name` of a document, or its only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return next(
        (op for op in operations if op.name is not None and op.name.value == operation_name),
        operations[0] if len(operations) == 1 else None,
    )


def operation_weight(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    full_page: int,
) -> Weight:
    """The weight of the operation `operation_name` (or the only one) of a valid document."""
    chosen = chosen_operation(document, operation_name)
    if chosen is None:
        return Weight(0)
    root = schema.get_root_type(chosen.operation)
    if root is None:
        return Weight(0)
    walker = _Weigher(schema, document, chosen, variables, full_page)
    return walker.weigh(chosen.selection_set, root, None)


@dataclass(frozen=True)
class Verdict:
    """What an operation asks before it runs: its weight, and the first argument out of
    bounds if any (schema/inputs.py)."""

    weight: Weight
    out_of_bounds: OutOfBounds | None = None


def judge_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    full_page: int,
    bounds: InputBounds,
) -> Verdict:
    """The verdict on the operation `operation_name` (or the only one) of a valid document."""
    chosen = chosen_operation(document, operation_name)
    if chosen is None:
        return Verdict(Weight(0))
    return Verdict(
        operation_weight(schema, document, operation_name, variables, full_page),
        inputs_out_of_bounds(schema, document, chosen, variables, bounds),
    )


class OperationWeights:
    """Verdicts on operations seen lately, by document (the parser cache's object), operation
    and variables: a client sends the same page again and again."""

    def __init__(self, size: int, bounds: InputBounds) -> None:
        self.size = size
        self.bounds = bounds
        self._found: OrderedDict[tuple[int, str | None, str], tuple[DocumentNode, Verdict]] = (
            OrderedDict()
        )

    def verdict(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        full_page: int,
    ) -> Verdict:
        judged = (schema, document, operation_name, variables, full_page, self.bounds)
        try:
            key = (id(document), operation_name, json_key(variables or {}))
        except TypeError:  # variables JSON cannot hold: judge without remembering
            return judge_operation(*judged)
        found = self._found.get(key)
        if found is not None and found[0] is document:
            self._found.move_to_end(key)
            return found[1]
        verdict = judge_operation(*judged)
        self._found[key] = (document, verdict)
        while len(self._found) > self.size:
            self._found.popitem(last=False)
        return verdict


def guard_operation(
    settings: Settings,
    weights: OperationWeights,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: tuple[str | None, str | None],
    variables: Mapping[str, Any] | None,
    context: Any,
) -> None:
    """Refuses, before execution, an operation of several left unnamed, an argument out of
    bounds (schema/inputs.py), an operation over the cost limit, and introspection by anyone who
    may not use the console where it is restricted (production); names the operation on the
    context for the access log and the metrics. `operation` is the name the request gave and the
    name of the operation that runs (the first one's when none was given)."""
    provided, name = operation
    # Strawberry runs the first operation when several came without a name; the GraphQL spec
    # (GetOperation) refuses, so that no client gets a surprise.
    if provided is None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            raise GraphQLError(
                "the document holds several operations: name the one to run (operationName)",
                extensions={"code": INVALID},
            )
    if hasattr(context, "operation_name"):
        context.operation_name = name or ""
    verdict = weights.verdict(schema, document, name, variables, settings.max_page_size)
    if verdict.out_of_bounds is not None:
        raise out_of_bounds(verdict.out_of_bounds)
    weight = verdict.weight
    limit = settings.max_query_cost
    if weight.cost > limit:
        raise GraphQLError(
            f"the operation would cost {weight.cost:,} (every field 1, a connection's "
            f"edges `first` times each); the limit is {limit:,}: ask for smaller pages",
            extensions={
                "code": COST_LIMIT_EXCEEDED,
                # A JSON number every client reads exactly (JavaScript's safe integers):
                # pages of pages of 2^31 items cost more than any encoder holds.
                "cost": min(weight.cost, MAX_SAFE_INTEGER),
                "limit": limit,
            },
        )
    actor = getattr(context, "actor", None)
    restricted = settings.console_restricted
    if (
        weight.introspects
        and restricted
        and not (actor is not None and may_use_console(actor, restricted))
    ):
        raise GraphQLError(
            "introspection is open only to signed-in superadmins and coordinators here; "
            "use the published schema (schema/schema.graphql)",
            extensions={"code": "FORBIDDEN"},
        )


class RequestGuard(SchemaExtension):
    """`guard_operation` as Strawberry's pipeline runs it: before execution."""

    def __init__(self, settings: Settings, weights: OperationWeights) -> None:
        self.settings = settings
        self.weights = weights

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None:
            guard_operation(
                self.settings,
                self.weights,
                ctx.schema._schema,
                document,
                (getattr(ctx, "_provided_operation_name", None), ctx.operation_name),
                ctx.variables,
                ctx.context,
            )
        yield
