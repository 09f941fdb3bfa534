"""The executor Strawberry runs every operation with: operations it has seen run from their
compiled plans; what the compiler does not support, and everything when the switch is off,
runs on graphql-core's generic executor, unchanged.

Strawberry's extensions (parsing and validation caches, the request guard, error coding) run
around it as before. A subscription's plan serves each of its events (graphql-core copies the
executor per event).
"""

from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from copy import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    print_ast,
)
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import VariableValues
from graphql.pyutils import AwaitableOrValue, Path, RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from core.metrics import count_execution
from domain.services.reading import SharedRows, reads_leaving_out, reads_on_one_connection
from schema.compiled.builders import with_builders
from schema.compiled.plan import (
    Compiler,
    FieldPlan,
    How,
    Obj,
    Plan,
    Unsupported,
    condition_variables,
)
from schema.compiled.run import Failed, PlanRun
from schema.documents import json_key, own_copy, remembered, shareable
from schema.loaders import people_on_demand

_Key = tuple[Any, ...]


class _Entry:
    """One operation's plans, by the values of the variables its `@skip`/`@include` read;
    None where it is left to the generic executor."""

    __slots__ = ("conditions", "operation", "plans")

    def __init__(self, operation: OperationDefinitionNode, conditions: list[str]) -> None:
        self.operation = operation  # held: the cache is keyed by its id
        self.conditions = conditions
        self.plans: dict[_Key, Plan | None] = {}


class PlanCache:
    """The plans of the operations seen lately (a bounded LRU, like the parser's cache, whose
    documents it follows: a document parsed once is one operation object)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def plan(self, executor: CompilingExecutor) -> Plan | None:
        operation = executor.operation
        entry = self._entries.get(id(operation))
        if entry is None or entry.operation is not operation:
            entry = _Entry(operation, condition_variables(operation, executor.fragments))
            self._entries[id(operation)] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(id(operation))
        coerced = executor.variable_values.coerced
        key = tuple(coerced.get(name) for name in entry.conditions)
        if key not in entry.plans:
            try:
                entry.plans[key] = with_builders(executor.compiler().compile())
            except Unsupported:
                entry.plans[key] = None
        return entry.plans[key]

    def clear(self) -> None:
        self._entries.clear()


def _argument_converter(
    schema: GraphQLSchema,
) -> Callable[[StrawberryField, dict[str, Any]], dict[str, Any]]:
    """GraphQL argument values to the Python values a resolver takes, as Strawberry makes them."""
    strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
    registry = strawberry_schema.schema_converter.scalar_registry
    config = strawberry_schema.config

    def convert(field: StrawberryField, raw: dict[str, Any]) -> dict[str, Any]:
        return convert_arguments(raw, field.arguments, scalar_registry=registry, config=config)

    return convert


@dataclass(frozen=True)
class Mismatch:
    """An operation whose compiled and generic answers differed (`CompilingExecutor.check`)."""

    document: str
    variables: dict[str, Any]
    compiled: bytes
    generic: bytes


def comparable_answer(result: ExecutionResult) -> bytes:
    """An execution's data and errors as comparable bytes (errors in a stable order)."""
    errors = sorted(
        orjson.dumps(e.formatted, option=orjson.OPT_SORT_KEYS) for e in result.errors or ()
    )
    return orjson.dumps({"data": result.data}) + b"\n" + b"\n".join(errors)


class _Check:
    report: Callable[[Mismatch], None] | None = None


_check = _Check()


def check_against_generic(report: Callable[[Mismatch], None] | None) -> None:
    """From now on, also run every compiled query and subscription event on the generic
    executor (with loaders of its own) and `report` any difference; None stops it. The test
    suite runs this way (tests/conftest.py)."""
    _check.report = report


class _MadeOnUse:
    """An executor's memo map made when graphql-core's executor first uses it, not with every
    executor: a subscription keeps its executor (with two empty maps, 1.6 KB) for its whole life,
    and a compiled operation never uses them."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, executor: Any, owner: type | None = None) -> Any:
        if executor is None:
            return self
        made: RefMap[Any, Any] = RefMap()
        executor.__dict__[self.name] = made
        return made


class CompilingExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, running operations from their plans when it can."""

    compiled: ClassVar[bool] = True
    plans: ClassVar[PlanCache] = PlanCache(256)
    _last_run: PlanRun | None = None
    _initial_execution_plans = _MadeOnUse()
    _deferred_execution_plans = _MadeOnUse()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self._initial_execution_plans, self._deferred_execution_plans
        self.async_helpers = _helpers_of(weakref.ref(self))

    def build_per_event_executor(self, payload: Any) -> CompilingExecutor:
        """This executor again, for its subscription's next event: the event its root, and
        errors of its own. graphql-core copies the executor for each event, and the copy read
        each of its thirty attributes, cold, for each of thousands of subscribers (6 % of a
        live delivery). One subscription's events run one after another (`map_async_iterable`
        awaits each), and a run gives no other attribute a new value but the check's
        `_last_run`. It keeps the last event's root until the next (for a desk's tabs, the one
        item they share: schema/subscriptions.py)."""
        self.root_value = payload
        self.collected_errors = CollectedErrors()
        return self

    def _fresh(self) -> None:
        """The state that is this execution's own (`executors_of`): the same as the three
        constructors make (graphql-core's two and Strawberry's)."""
        self.collected_errors = CollectedErrors()
        self.pending_incremental_futures = set()
        self.background_futures = set()
        self.async_work_finished_hook_task = None
        self.defer_usage_set = None
        self.groups = []
        self.tasks = []
        self.streams = []
        self._relevant_sub_fields = {}
        self._stream_usages = RefMap()
        # graphql-core's helpers are bound methods of the executor, which holds them: a cycle
        # that kept each request (its context, loaders and views) for the cyclic collector.
        self.async_helpers = _helpers_of(weakref.ref(self))

    @classmethod
    def executors_of(cls, **common: Any) -> Callable[[Any, VariableValues, Any], CompilingExecutor]:
        """Executors of one document's operation, each as the constructor would make it with
        `common` (all its arguments but the context, the variables and the operation's
        extensions), for about a third of its cost: the three constructors pass their keywords
        on to each other and make maps that a compiled run never uses. What they make the same
        for every execution is taken once from one made by them; the rest is made anew
        (`_fresh`). tests/schema/compiled/test_executors_of.py holds the two ways to the same
        attributes."""
        model = cls(
            **common, context_value=None, variable_values=_NO_VARIABLES, operation_extensions=None
        )
        shared = {name: value for name, value in vars(model).items() if name not in _OWN}

        def executor(context: Any, variables: VariableValues, extensions: Any) -> CompilingExecutor:
            made = object.__new__(cls)
            made.__dict__.update(shared)
            made.context_value = context
            made.variable_values = variables
            made.operation_extensions = extensions
            made._fresh()
            return made

        return executor

    def execute_operation(  # type: ignore[override]
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult]:
        plan = self.plans.plan(self) if self.compiled else None
        if plan is None:
            count_execution("generic")
            return self._generic_run(serially)
        count_execution("compiled")
        report = _check.report
        if report is not None:
            return self._run_checked(plan, serially, report)
        return self._run(plan)

    async def _generic_run(self, serially: bool | None) -> ExecutionResult:
        async with self._reads():
            return await self._generic_awaited(serially)

    async def _generic_awaited(self, serially: bool | None) -> ExecutionResult:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result

    async def _run_checked(
        self, plan: Plan, serially: bool | None, report: Callable[[Mismatch], None]
    ) -> ExecutionResult:
        people = self.context_value.loaders.known_people()
        compiled = await self._run(plan)
        if plan.serial:
            # A mutation runs once: its payloads are completed again by the generic executor,
            # knowing the people its resolvers fetched (generic execution fetches them as the
            # payload is made, which the compiled run left to its plan; the plan's fetching is
            # checked on every query).
            assert self._last_run is not None
            values = self._last_run.root_values
            people = self.context_value.loaders.known_people()
            generic = await self._twin()._complete_generically(plan, values, people)
            same = comparable_answer(compiled) == comparable_answer(generic)
        else:
            generic = await self._twin()._generic(serially, people)
            # Data may have changed in between (another request's commit): a second compiled
            # run that agrees with the generic one says so.
            same = comparable_answer(compiled) == comparable_answer(generic) or comparable_answer(
                await self._twin()._run(plan)
            ) == comparable_answer(generic)
        if not same:
            report(
                Mismatch(
                    print_ast(self.operation),
                    dict(self.variable_values.coerced),
                    comparable_answer(compiled),
                    comparable_answer(generic),
                )
            )
        return compiled

    async def _complete_generically(
        self, plan: Plan, values: dict[str, Any], people: dict[int, Any]
    ) -> ExecutionResult:
        """graphql-core's completion of the values the root fields returned, as its own
        execution would have completed them (`Executor.execute_field`)."""
        root = plan.root
        data: dict[str, Any] | None = {}
        with self.context_value.own_loaders(people):
            try:
                for field in root.fields:
                    assert data is not None
                    data[field.key] = await self._complete_root(field, root, values)
            except GraphQLError as error:
                self.collected_errors.add(error, None)
                data = None
        result = self.build_response(data)
        assert isinstance(result, ExecutionResult)
        return result

    async def _complete_root(self, field: FieldPlan, root: Obj, values: dict[str, Any]) -> Any:
        if field.how is How.TYPENAME:
            return root.type.name
        path = Path(None, field.key, root.type.name)
        return_type = field.definition.type
        try:
            value = values[field.key]
            if isinstance(value, Failed):
                raise value.error
            info = self.build_resolve_info(field.definition, field.nodes, root.type, path)
            completed = self.complete_value(return_type, field.details, info, path, value, None)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            self.handle_field_error(error, return_type, field.details, path)
            return None
        return completed

    def _twin(self) -> CompilingExecutor:
        twin = copy(self)
        twin.collected_errors = CollectedErrors()
        return twin

    async def _generic(self, serially: bool | None, people: dict[int, Any]) -> ExecutionResult:
        with self.context_value.own_loaders(people):
            return await self._generic_awaited(serially)

    async def _run(self, plan: Plan) -> ExecutionResult:
        shared = self._event_rows()
        if shared is None:
            return await self._execute(plan)
        # A live event's subscribers who are the same viewer, with the same operation and
        # variables, get the same answer: it is worked out once for them (a desk's tabs).
        key = (
            "answer",
            id(plan),
            json_key(self.variable_values.coerced),
            self.context_value.actor,
        )
        answer = await shared.read(key, lambda: self._execute(plan))
        shared.served()  # the other subscribers may go: theirs is ready, or will not wait on this
        # Each subscriber's own result object: the layers above may replace its errors.
        return ExecutionResult(answer.data, list(answer.errors) if answer.errors else None)

    def _event_rows(self) -> SharedRows | None:
        if self.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        event_rows = getattr(self.context_value, "event_rows", None)
        return event_rows() if event_rows is not None else None

    async def _execute(self, plan: Plan) -> ExecutionResult:
        # The plan fetches the people its fields show, level by level: the loaders need not
        # fetch everyone their rows name (schema/loaders.py).
        on_demand = people_on_demand.set(True)
        run = PlanRun(self, plan)
        if _check.report is not None:  # kept for the check (a cycle: not on the way to users)
            self._last_run = run
        try:
            with reads_leaving_out(plan.left_out):
                async with self._reads():
                    data = await run.execute()
        finally:
            people_on_demand.reset(on_demand)
        if self.groups or self.tasks or self.streams or self.hooks is not None:
            result = self.build_response(data)
            assert isinstance(result, ExecutionResult)
            return result
        # As `build_response` answers when there is no incremental work and no hook to run.
        return ExecutionResult(data, self.collected_errors.errors or None)

    def _reads(self) -> AbstractAsyncContextManager[None]:
        """A query's reads over one pooled connection (docs/adr/0034); a mutation's
        transactions and a live event's shared reads as they are, on connections of their own."""
        if self.operation.operation is OperationType.QUERY:
            return reads_on_one_connection()
        return contextlib.nullcontext()

    def compiler(self) -> Compiler:
        return Compiler(
            self.schema,
            self.fragments,
            self.variable_values,
            self.operation,
            _argument_converter(self.schema),
        )

    def arguments(self, plan: FieldPlan) -> dict[str, Any]:
        """A field's arguments that read variables, in Python, for this execution: converted
        once for the same values of those variables (Strawberry's conversion of an inbox's
        arguments costs more than the rest of its root field), when the values are immutable."""
        coerced = self.variable_values.coerced
        try:
            key = json_key([[name, name in coerced, coerced.get(name)] for name in plan.variables])
        except TypeError:  # a value JSON does not hold (an upload): converted each time
            return self.compiler().arguments(plan, self.variable_values)
        found, shared = remembered(
            plan.converted, key, CONVERTED_PER_FIELD, _all_shareable, self._converted, plan
        )
        return own_copy(found) if shared else found

    def _converted(self, plan: FieldPlan) -> dict[str, Any]:
        """The field's arguments converted for this execution, as Strawberry converts them."""
        return self.compiler().arguments(plan, self.variable_values)


def _all_shareable(values: dict[str, Any]) -> bool:
    """Whether converted arguments may be remembered for other executions (`shareable`)."""
    return all(shareable(value) for value in values.values())


# What each execution has of its own (`CompilingExecutor._fresh`), with its context, its
# variables and its operation's extensions.
_OWN = frozenset(
    {
        "collected_errors",
        "pending_incremental_futures",
        "background_futures",
        "async_work_finished_hook_task",
        "defer_usage_set",
        "groups",
        "tasks",
        "streams",
        "_relevant_sub_fields",
        "_stream_usages",
        "async_helpers",
        "context_value",
        "variable_values",
        "operation_extensions",
    }
)
_NO_VARIABLES = VariableValues({}, {})

# The converted arguments kept per field, for as many sets of variable values (a desk's
# inbox is asked with a few agencies, statuses and page sizes).
CONVERTED_PER_FIELD = 32


def _helpers_of(executor: weakref.ref[CompilingExecutor]) -> GraphQLResolveInfoHelpers:
    """The executor's resolve-info helpers, not holding it (it lives as long as it runs)."""

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        found = executor()
        assert found is not None
        return found.gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        found = executor()
        assert found is not None
        found.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def compiling_executor(enabled: bool, plans: int) -> type[CompilingExecutor]:
    """The executor class for one schema: compiling or not, with its own plan cache."""
    return type(
        "CompilingExecutor",
        (CompilingExecutor,),
        {"compiled": enabled, "plans": PlanCache(plans), "__module__": __name__},
    )
