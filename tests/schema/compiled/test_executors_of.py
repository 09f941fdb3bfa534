"""`CompilingExecutor.executors_of` makes an executor as its constructors do: the same
attributes, those the constructors make anew for each execution made anew, the others shared.
A graphql-core or Strawberry that adds state to its executor fails here, not in production."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, default_field_resolver, default_type_resolver, parse
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import get_variable_values
from strawberry.execution import optimized_is_awaitable

from schema.compiled.executor import CompilingExecutor
from schema.schema import schema

DOCUMENT = parse(
    "query Q($code: String!) { report(trackingCode: $code) { ...F } } "
    "fragment F on Report { id title }"
)


def _common() -> dict[str, Any]:
    operation, fragment = DOCUMENT.definitions
    definitions = {"F": fragment}
    return {
        "schema": schema._schema,
        "fragment_definitions": definitions,
        "fragments": {"F": FragmentDetails(fragment, None)},  # type: ignore[arg-type]
        "root_value": None,
        "operation": operation,
        "field_resolver": default_field_resolver,
        "type_resolver": default_type_resolver,
        "subscribe_field_resolver": default_field_resolver,
        "is_awaitable": optimized_is_awaitable,
    }


def _variables(code: str) -> Any:
    operation = DOCUMENT.definitions[0]
    return get_variable_values(schema._schema, operation.variable_definitions, {"code": code})  # type: ignore[attr-defined]


def test_an_executor_has_what_its_constructors_give_it() -> None:
    executor_class = schema.execution_context_class
    assert isinstance(executor_class, type) and issubclass(executor_class, CompilingExecutor)
    common = _common()
    contexts = (object(), object())
    variables = (_variables("LPR-2345-6789"), _variables("LPR-3456-789A"))
    built = [
        executor_class(**common, context_value=c, variable_values=v, operation_extensions={"n": i})
        for i, (c, v) in enumerate(zip(contexts, variables, strict=True))
    ]
    make = executor_class.executors_of(**common)
    made = [make(c, v, {"n": i}) for i, (c, v) in enumerate(zip(contexts, variables, strict=True))]

    assert all(type(m) is executor_class for m in made)
    assert [sorted(vars(m)) for m in made] == [sorted(vars(b)) for b in built]
    for name in vars(built[0]):
        own = vars(built[0])[name] is not vars(built[1])[name]
        # What the constructors make anew is made anew; what they share is shared.
        assert (vars(made[0])[name] is not vars(made[1])[name]) == own, name
        first, second = vars(made[0])[name], vars(built[0])[name]
        if name in ("context_value", "variable_values", "operation_extensions"):
            assert first is second or first == second, name
        elif not own:
            assert first is second or first == second, name
        else:  # made anew, of the same kind (an empty container, or helpers of its own)
            assert type(first) is type(second), name


def test_a_subscriptions_next_event_runs_with_its_own_root_and_errors() -> None:
    """graphql-core asks for an executor for each event of a subscription: the subscription's
    own, the event its root, and none of the last event's errors."""
    executor_class = schema.execution_context_class
    assert isinstance(executor_class, type) and issubclass(executor_class, CompilingExecutor)
    executor = executor_class.executors_of(**_common())(object(), _variables("LPR-2345-6789"), {})
    for at in (1, 2):
        event = executor.build_per_event_executor({"at": at})
        assert event is executor and event.root_value == {"at": at}
        assert event.collected_errors.errors == []
        event.collected_errors.add(GraphQLError(f"in event {at}"), None)
