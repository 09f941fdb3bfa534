"""Plans: a validated operation compiled once into what each of its selections needs.

For every field the operation selects, decided when the operation is first seen instead of
for every object of every request: the resolver to call and how (a plain attribute, the
field's own resolver, or the root field's full Strawberry wrapper), its arguments when they
are constants, what to fetch for a whole level before resolving it, and how its value is
completed (a leaf's output coercion, an object's own plan, a list, an abstract type's plans
by runtime type). Field collection is graphql-core's own (`collect_fields`), run with the
operation's variables, so fragments, aliases, type conditions and `@skip`/`@include` follow
the spec exactly; the plan depends on the variables only through those directives, whose
values are part of the plan's key (`condition_variables`).

What the compiler does not support raises `Unsupported`: the operation then runs on the
generic executor, unchanged.
"""

from __future__ import annotations

import builtins
import operator
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import DirectiveNode, FieldNode, Visitor
from strawberry.types.field import StrawberryField

from schema.compiled.hints import (
    Ahead,
    AsIs,
    ahead_of,
    as_is_of,
    columns_shown_by,
    declared_columns,
    prefetch_of,
)

if TYPE_CHECKING:
    from schema.compiled.builders import Builder

DEFINITION = "strawberry-definition"  # where Strawberry keeps a GraphQL field's definition

Prefetch = Callable[[Any, Sequence[Any]], Awaitable[None]]


class Unsupported(Exception):
    """The operation uses something left to the generic executor."""


class How(Enum):
    """Where a field's value comes from."""

    TYPENAME = "typename"  # the parent's type name
    ATTRIBUTE = "attribute"  # an attribute of the parent object
    CALL = "call"  # the field's resolver, called with (self, info, **arguments)
    ROOT = "root"  # a root field: Strawberry's full resolver wrapper, with real resolve info


@dataclass(eq=False, slots=True)
class Leaf:
    """A scalar or an enum: the value coerced for output."""

    type: GraphQLLeafType
    nonnull: bool
    # Values of exactly this Python type are their own output (str for String and ID, bool
    # for Boolean); int for Int within its 32-bit range; None: always coerce.
    same: builtins.type | None
    # For a Strawberry enum: its Python class, and each member's output (its name) as the enum
    # coerces it, worked out once (the coercion scans the enum's values for every member).
    members: builtins.type | None = None
    names: dict[Any, Any] = field(default_factory=dict)
    # For a scalar whose serializer gives some values as they are (`hints.output_as_is`):
    # which; a builder writes them without calling it.
    as_is: AsIs | None = None


@dataclass(eq=False, slots=True)
class Obj:
    """An object: its fields' plans, filled in once the plan of its selection is built."""

    type: GraphQLObjectType
    nonnull: bool
    fields: list[FieldPlan] = field(default_factory=list)
    # Its leaf fields' generated builder, made once the whole plan is (builders.with_builders).
    builder: Builder | None = None


@dataclass(eq=False, slots=True)
class Abstract:
    """An interface or union: one object plan per possible runtime type."""

    type: GraphQLAbstractType
    nonnull: bool
    objects: dict[str, Obj]


@dataclass(eq=False, slots=True)
class ListOf:
    item: Out
    nonnull: bool


Out = Leaf | Obj | Abstract | ListOf


@dataclass(eq=False, slots=True)
class FieldPlan:
    """One response key of a selection on one object type."""

    key: str
    parent: GraphQLObjectType
    definition: GraphQLField
    details: list[FieldDetails]
    out: Out
    how: How
    get: Callable[[Any], Any] | None = None  # ATTRIBUTE
    resolver: Callable[..., Any] | None = None  # CALL: the unbound resolver function
    is_async: bool = False
    takes_self: bool = False
    info_name: str | None = None
    strawberry_field: StrawberryField | None = None
    # CALL with arguments: their Python values when the operation gives them as constants.
    constant_arguments: dict[str, Any] | None = None
    has_arguments: bool = False
    # CALL with arguments that read variables: the variables they read, and their Python
    # values for the variables' values seen lately (executor.py, `CompilingExecutor.arguments`).
    variables: tuple[str, ...] = ()
    converted: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    prefetch: Prefetch | None = None
    # CALL: what to ask for before the resolver runs, for fields its selection has, with their
    # selections (whose arguments the ask is given, hints.py), and those arguments when they
    # are the same for every run (`_arguments_known`).
    ahead: tuple[
        tuple[Ahead, tuple[FieldPlan, ...], tuple[dict[str, Any] | None, ...] | None], ...
    ] = ()

    @property
    def known_arguments(self) -> dict[str, Any] | None:
        """Its arguments when every run gives it the same: none, or those converted once
        (`constant_arguments`); None when they are worked out on each run (they read variables,
        or failed to convert)."""
        return self.constant_arguments if self.has_arguments else {}

    @property
    def nodes(self) -> list[FieldNode]:
        return [d.node for d in self.details]

    @property
    def name(self) -> str:
        return self.details[0].node.name.value


@dataclass(eq=False, slots=True)
class Plan:
    """The compiled operation: the root type's plan and how its root fields run."""

    operation: OperationDefinitionNode
    root: Obj
    serial: bool
    # A query's: the shown-only columns it shows none of, which its reads leave out (hints.py).
    left_out: frozenset[str] = frozenset()


def condition_variables(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> list[str]:
    """Variables that `@skip`/`@include` read anywhere in the operation or its fragments: a
    plan is made for each combination of their values."""
    found: list[str] = []

    class Conditions(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        name = argument.value.name.value
                        if name not in found:
                            found.append(name)

    visit(operation, Conditions())
    for details in fragments.values():
        visit(details.definition, Conditions())
    return found


def _selected(out: Out, path: str) -> list[FieldPlan]:
    """The selections of the field at `path` (names, dotted) below an object (or list of them,
    or any of an abstract type's)."""
    if type(out) is ListOf:
        return _selected(out.item, path)
    if type(out) is Abstract:
        return [f for obj in out.objects.values() for f in _selected(obj, path)]
    if type(out) is not Obj:
        return []
    name, _, rest = path.partition(".")
    found = [f for f in out.fields if f.name == name]
    return [g for f in found for g in _selected(f.out, rest)] if rest else found


def _arguments_known(selected: Sequence[FieldPlan]) -> tuple[dict[str, Any] | None, ...] | None:
    """The arguments of each selection as an ask is given them, when the plan knows them all
    (`known_arguments`): the same for every run. None otherwise: they are worked out on each
    run."""
    known = tuple(plan.known_arguments for plan in selected)
    return None if None in known else known


def _columns_shown(out: Out, found: set[str]) -> None:
    """Add the shown-only columns that the fields selected in `out` (and below) show."""
    if type(out) is ListOf:
        _columns_shown(out.item, found)
    elif type(out) is Abstract:
        for obj in out.objects.values():
            _columns_shown(obj, found)
    elif type(out) is Obj:
        shows = columns_shown_by(getattr(out.type.extensions.get(DEFINITION), "origin", None))
        if shows:
            selected = {f.strawberry_field.python_name for f in out.fields if f.strawberry_field}
            found.update(column for column, fields in shows.items() if fields & selected)
        for field_plan in out.fields:
            _columns_shown(field_plan.out, found)


# Leaves whose values of one exact Python type need no coercion.
_SAME = {GraphQLString.name: str, GraphQLID.name: str, GraphQLBoolean.name: bool}


class Compiler:
    """Builds the plan of one operation for one set of `@skip`/`@include` values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: OperationDefinitionNode,
        convert: Callable[[StrawberryField, dict[str, Any]], dict[str, Any]],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation
        self.convert = convert

    def compile(self) -> Plan:
        root_type = self.schema.get_root_type(self.operation.operation)
        if root_type is None:
            raise Unsupported("no root type for this operation")
        collected = collect_fields(
            self.schema, self.fragments, self.variables, root_type, self.operation
        )
        if collected.new_defer_usages:
            raise Unsupported("@defer")
        root = Obj(root_type, True)
        root.fields = [
            self._field(root_type, key, details, root=True)
            for key, details in collected.grouped_field_set.items()
        ]
        query = self.operation.operation is OperationType.QUERY
        shown: set[str] = set()
        _columns_shown(root, shown)
        left_out = frozenset(declared_columns - shown) if query else frozenset()
        return Plan(
            self.operation, root, self.operation.operation is OperationType.MUTATION, left_out
        )

    def _selection(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> list[FieldPlan]:
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, type_, details
        )
        if collected.new_defer_usages:
            raise Unsupported("@defer")
        return [
            self._field(type_, key, group, root=False)
            for key, group in collected.grouped_field_set.items()
        ]

    def _field(
        self, parent: GraphQLObjectType, key: str, details: list[FieldDetails], *, root: bool
    ) -> FieldPlan:
        node = details[0].node
        name = node.name.value
        if any(d.fragment_variable_values is not None for d in details):
            raise Unsupported("fragment variables")
        if name == "__typename":
            leaf = Leaf(GraphQLString, True, str)
            return FieldPlan(key, parent, _TYPENAME_FIELD, details, leaf, How.TYPENAME)
        if name.startswith("__"):
            raise Unsupported("introspection")
        definition = parent.fields.get(name)
        if definition is None:
            raise Unsupported(f"unknown field {parent.name}.{name}")
        out = self._out(definition.type, details)
        plan = FieldPlan(key, parent, definition, details, out, How.ROOT)
        if not root:
            self._resolved(plan)
        elif self.operation.operation is OperationType.QUERY:
            # A query's root field is called as any other field when it is a plain one; a
            # mutation's and a subscription's run through Strawberry's own resolver (its info).
            try:
                self._resolved(plan)
            except Unsupported:
                plan.how = How.ROOT
        return plan

    def _resolved(self, plan: FieldPlan) -> None:
        """How a field's value is read: an attribute, or its resolver called (CALL)."""
        parent, name, node = plan.parent, plan.name, plan.details[0].node
        strawberry_field = plan.definition.extensions.get(DEFINITION)
        if not isinstance(strawberry_field, StrawberryField) or strawberry_field.extensions:
            raise Unsupported(f"{parent.name}.{name} is not a plain Strawberry field")
        resolver = strawberry_field.base_resolver
        plan.strawberry_field = strawberry_field
        if resolver is None:
            plan.how = How.ATTRIBUTE
            plan.get = operator.attrgetter(strawberry_field.python_name)
            return
        if resolver.root_parameter is not None or resolver.parent_parameter is not None:
            raise Unsupported(f"{parent.name}.{name} asks for its root")
        plan.how = How.CALL
        plan.resolver = resolver._unbound_wrapped_func
        plan.is_async = resolver.is_async
        plan.takes_self = resolver.self_parameter is not None
        plan.info_name = resolver.info_parameter.name if resolver.info_parameter else None
        plan.prefetch = prefetch_of(plan.resolver)
        plan.ahead = tuple(
            (ask, tuple(selected), _arguments_known(selected))
            for child, ask in ahead_of(plan.resolver)
            if (selected := _selected(plan.out, child))
        )
        plan.has_arguments = bool(strawberry_field.arguments)
        if plan.has_arguments:
            plan.variables = _variables_of(node)
            if not plan.variables:
                try:
                    plan.constant_arguments = self.arguments(plan, self.variables)
                except Exception:  # converted again as the field runs: its error, at its path
                    pass

    def arguments(self, plan: FieldPlan, variables: VariableValues) -> dict[str, Any]:
        """The Python values of a CALL field's arguments (GraphQLError when one is invalid)."""
        assert plan.strawberry_field is not None
        raw = get_argument_values(plan.definition, plan.details[0].node, variables)
        return self.convert(plan.strawberry_field, raw)

    def _out(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> Out:
        nonnull = is_non_null_type(type_)
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return ListOf(self._out(type_.of_type, details), nonnull)
        if is_leaf_type(type_):
            assert isinstance(type_, GraphQLLeafType)
            same = int if type_.name == GraphQLInt.name else _SAME.get(type_.name)
            members = getattr(type_, "wrapped_cls", None)  # Strawberry's enum types
            if not isinstance(members, type):
                serialize = getattr(type_, "serialize", None)
                as_is = as_is_of(serialize) if serialize is not None else None
                return Leaf(type_, nonnull, same, as_is=as_is)
            return Leaf(type_, nonnull, same, members, _outputs(type_, members))
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            obj = Obj(type_, nonnull)
            obj.fields = self._selection(type_, details)
            return obj
        if is_abstract_type(type_):
            assert isinstance(type_, GraphQLAbstractType)
            objects = {}
            for possible in self.schema.get_possible_types(type_):
                obj = Obj(possible, True)
                obj.fields = self._selection(possible, details)
                objects[possible.name] = obj
            return Abstract(type_, nonnull, objects)
        raise Unsupported(f"output type {type_}")


def _outputs(type_: GraphQLLeafType, members: type) -> dict[Any, Any]:
    """Each member of an enum with its output value; a member the enum refuses is left out
    (its coercion's error is the general path's to report)."""
    outputs: dict[Any, Any] = {}
    for member in members:  # type: ignore[attr-defined]
        try:
            output = type_.coerce_output_value(member)  # type: ignore[union-attr]
        except Exception:
            continue
        if output is not None:
            outputs[member] = output
    return outputs


# `__typename` has no definition on the object types; it stands in for one.
_TYPENAME_FIELD = GraphQLField(GraphQLNonNull(GraphQLString))


def _variables_of(node: FieldNode) -> tuple[str, ...]:
    """The variables a field's arguments read, each once, in order."""
    found: list[str] = []

    class Variables(Visitor):
        def enter_variable(self, variable: VariableNode, *_: Any) -> None:
            if variable.name.value not in found:
                found.append(variable.name.value)

    for argument in node.arguments or ():
        visit(argument, Variables())
    return tuple(found)
