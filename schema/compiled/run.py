"""Running a plan: level by level, each field resolved for all the objects of its level at once.

No task per field and no per-field hooks: a level's objects go through each field's resolver
in turn; an async resolver is stepped by hand, and those that wait (for a loader, which then
gets every key of the level in one batch) are finished one after the other; a level of one
object simply awaits its resolver. Values are completed straight into the response's dicts,
and a root field's object that its builder builds whole is written by it at once (a detail
page's report: no level's lists, paths and type check for one object). Errors and nulls
follow the spec as the generic executor applies them: a field error is located at its path; a
null or an error in a non-null position nulls the nearest nullable position above it, where the
error is recorded (once per nulled position, graphql-core's `CollectedErrors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from graphql import GraphQLError, located_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, inspect, is_iterable

from schema.compiled.plan import Abstract, FieldPlan, How, Leaf, ListOf, Obj, Out, Plan

if TYPE_CHECKING:
    from schema.compiled.builders import Builder, Hoisted
    from schema.compiled.executor import CompilingExecutor

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Failed:
    """A resolver's exception for one object."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Bubble:
    """A non-null position that failed: the nearest nullable position above records `error`
    and becomes null."""

    __slots__ = ("error",)

    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class CompiledInfo:
    """The `info` a resolver gets from the compiled executor: the context only, the one part
    of `info` the project's resolvers read (the differential test holds them to it)."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class Positions(Protocol):
    """The response paths of a level's values, by index; each made when an error asks for it."""

    def __getitem__(self, index: int, /) -> Path: ...


class _Positions:
    """The paths of one field on many objects."""

    __slots__ = ("key", "parents", "typename")

    def __init__(self, parents: Positions, key: str, typename: str) -> None:
        self.parents = parents
        self.key = key
        self.typename = typename

    def __getitem__(self, index: int) -> Path:
        return Path(self.parents[index], self.key, self.typename)


class _Picked:
    """Some of another level's paths, by their indices there."""

    __slots__ = ("indices", "inner")

    def __init__(self, inner: Positions, indices: Sequence[int]) -> None:
        self.inner = inner
        self.indices = indices

    def __getitem__(self, index: int) -> Path:
        return self.inner[self.indices[index]]


class _Items:
    """The paths of the items of many lists: item j is item `offsets[j]` of list `owners[j]`."""

    __slots__ = ("lists", "offsets", "owners")

    def __init__(self, lists: Positions, owners: list[int], offsets: list[int]) -> None:
        self.lists = lists
        self.owners = owners
        self.offsets = offsets

    def __getitem__(self, index: int) -> Path:
        return Path(self.lists[self.owners[index]], self.offsets[index], None)


class PlanRun:
    """One execution of a plan, for one operation or one subscription event."""

    def __init__(self, executor: CompilingExecutor, plan: Plan) -> None:
        self.executor = executor
        self.plan = plan
        self.errors = executor.collected_errors
        self.info = CompiledInfo(executor.context_value)
        # What each root field's resolver returned (a mutation's payload): the check against
        # the generic executor completes the same values again (executor.py).
        self.root_values: dict[str, Any] = {}

    async def execute(self) -> dict[str, Any] | None:
        """The response's data; None when a non-null root field failed."""
        root = self.plan.root
        data: dict[str, Any] = {}
        for plan in root.fields:
            path = Path(None, plan.key, root.type.name)
            if plan.how is How.TYPENAME:
                data[plan.key] = root.type.name
                continue
            value = await self._resolve_root(plan, path)
            self.root_values[plan.key] = value
            built = _at_once(plan.out, value, self.info)
            if built is not None:
                data[plan.key] = built
                continue
            (completed,) = await self._complete(plan, plan.out, [value], [path])
            if type(completed) is Bubble:
                self.errors.add(completed.error, None)
                return None
            data[plan.key] = completed
        return data

    async def _resolve_root(self, plan: FieldPlan, path: Path) -> Any:
        executor = self.executor
        if plan.how is not How.ROOT:  # a plain field of a query's root: called as any other
            (value,) = await self._resolve(plan, [executor.root_value])
            return value
        definition = plan.definition
        node = plan.details[0].node
        try:
            info = executor.build_resolve_info(definition, plan.nodes, plan.parent, path)
            arguments = (
                get_argument_values(definition, node, executor.variable_values)
                if definition.args or node.arguments
                else {}
            )
            resolve = definition.resolve or executor.field_resolver
            value = resolve(executor.root_value, info, **arguments)
            if executor.is_awaitable(value):
                value = await value
        except Exception as error:
            return Failed(error)
        return value

    async def _objects(self, obj: Obj, sources: list[Any], paths: Positions) -> list[Any]:
        """Each object's dict, or a Bubble where a non-null field of it failed."""
        builder = obj.builder
        if (
            builder is not None
            and (builder.prefetched or builder.hoisted)
            and await self._fetch_for(builder, sources) is not None
        ):
            builder = None  # a fetch failed: the general path gives each field its error
        if builder is None:
            return await self._fields(obj, obj.fields, sources, paths, [{} for _ in sources])
        results: list[Any] = builder.build(sources, self.info)
        general = [i for i, built in enumerate(results) if built is None]
        if general:  # objects the builder left to the general path: every field of them
            done = await self._fields(
                obj,
                obj.fields,
                [sources[i] for i in general],
                _Picked(paths, general),
                [{} for _ in general],
            )
            for index, result in zip(general, done, strict=True):
                results[index] = result
        if not builder.rest:
            return results
        if not general:
            return await self._fields(obj, builder.rest, sources, paths, results)
        left = set(general)
        built = [i for i in range(len(sources)) if i not in left]
        done = await self._fields(
            obj,
            builder.rest,
            [sources[i] for i in built],
            _Picked(paths, built),
            [results[i] for i in built],
        )
        for index, result in zip(built, done, strict=True):
            results[index] = result
        return results

    async def _fetch_for(self, builder: Builder, sources: list[Any]) -> Exception | None:
        """What a builder's fields, and those of the objects it builds inside, read: fetched
        for all of the level's objects, then for all the inner objects each hoisted fetch
        reaches; the error of a fetch that failed, else None."""
        if builder.prefetched:
            error = await self._prefetch(builder.prefetched, sources)
            if error is not None:
                return error
        for hoisted in builder.hoisted:
            inner = _reached(sources, hoisted)
            if inner:
                error = await self._prefetch(hoisted.fields, inner)
                if error is not None:
                    return error
        return None

    async def _prefetch(self, plans: list[FieldPlan], sources: list[Any]) -> Exception | None:
        """What these fields' resolvers read, fetched for all of a level's objects (hints.py);
        the error of a fetch that failed, else None."""
        context = self.info.context
        for plan in plans:
            assert plan.prefetch is not None
            try:
                await plan.prefetch(context, sources)
            except Exception as error:
                return error
        return None

    async def _fields(
        self,
        obj: Obj,
        fields: list[FieldPlan],
        sources: list[Any],
        paths: Positions,
        results: list[Any],
    ) -> list[Any]:
        """`fields` of each object written into its dict in `results`; the dict, or a Bubble
        where a non-null field of it failed."""
        bubbles: dict[int, Bubble] = {}
        typename = obj.type.name
        live = list(range(len(sources)))
        started = self._start_together(fields, sources)
        try:
            for plan in fields:
                if bubbles:
                    # An object nulled by a failed non-null field resolves no more fields, as on
                    # the generic executor, where that failure ends the object's completion: its
                    # other fields' errors would be errors under a nulled position.
                    live = [index for index in live if index not in bubbles]
                    if not live:
                        break
                    values = await self._resolved(plan, sources, live, started)
                    positions: Positions = _Positions(_Picked(paths, live), plan.key, typename)
                else:
                    values = await self._resolved(plan, sources, None, started)
                    positions = _Positions(paths, plan.key, typename)
                out = plan.out
                if type(out) is Leaf:
                    completed = self._leaves(plan, out, values, positions)
                else:
                    completed = await self._complete(plan, out, values, positions)
                key = plan.key
                for index, value in zip(live, completed, strict=True):
                    if type(value) is Bubble:
                        results[index][key] = None
                        bubbles.setdefault(index, value)
                    else:
                        results[index][key] = value
        finally:
            for _, waiting in started.values():  # fields a level never reached (all nulled)
                for _, coroutine, _ in waiting:
                    coroutine.close()
        for index, bubble in bubbles.items():
            results[index] = bubble
        return results

    def _start_together(self, fields: list[FieldPlan], sources: list[Any]) -> _Started:
        """The async resolvers of a level's fields, each stepped on every object until it first
        waits, before any field is finished: the loads they make go out together (one round
        trip, models/connection.py), not one field's after another's. Only when two or more
        such fields can start at once (no fetch for the level first). Those left waiting are
        finished when their field's turn comes, as `_step_all` finishes a field's: while they
        wait they hold nothing another field needs (a query's statements are sent by a task of
        its own, not by the resolvers that made them)."""
        eager = [
            plan
            for plan in fields
            if plan.is_async and plan.prefetch is None and plan.how is How.CALL
        ]
        if len(eager) < 2:
            return {}
        started: _Started = {}
        for plan in eager:
            kwargs = self._kwargs(plan)
            if type(kwargs) is Failed:
                started[id(plan)] = ([kwargs] * len(sources), [])
                continue
            assert plan.resolver is not None and isinstance(kwargs, dict)
            started[id(plan)] = _step_each(plan.resolver, sources, kwargs, plan.takes_self)
        return started

    async def _resolved(
        self, plan: FieldPlan, sources: list[Any], live: list[int] | None, started: _Started
    ) -> list[Any]:
        """The field's value on each of `sources` (those at `live` only, when given)."""
        begun = started.pop(id(plan), None)
        if begun is None:
            return await self._resolve(
                plan, sources if live is None else [sources[i] for i in live]
            )
        values, waiting = begun
        await _finish_waiting(values, waiting)
        return values if live is None else [values[i] for i in live]

    def _kwargs(self, plan: FieldPlan) -> dict[str, Any] | Failed:
        """The resolver's keyword arguments for this execution, or Failed. Called just before
        the resolver runs: what its selection reads next is asked for first (`reads_ahead`)."""
        try:
            for ask, selected, known in plan.ahead:
                if known is None:
                    known = tuple(self._arguments_ahead(f) for f in selected)
                ask(self.info.context, known)
            kwargs = plan.known_arguments
            if kwargs is None:
                kwargs = self.executor.arguments(plan)
        except Exception as error:
            return Failed(error)
        if plan.info_name is not None:
            kwargs = {**kwargs, plan.info_name: self.info}
        return kwargs

    def _arguments_ahead(self, plan: FieldPlan) -> dict[str, Any] | None:
        """A selection's arguments for an ask (`reads_ahead`); None when they are invalid (the
        field reports its own error when it runs)."""
        known = plan.known_arguments
        if known is not None:
            return known
        try:
            return self.executor.arguments(plan)
        except Exception:
            return None

    async def _resolve(self, plan: FieldPlan, sources: list[Any]) -> list[Any]:
        how = plan.how
        if how is How.ATTRIBUTE:
            get = plan.get
            assert get is not None
            try:
                return [get(source) for source in sources]
            except Exception:
                return [_attribute(get, source) for source in sources]
        if how is How.TYPENAME:
            return [plan.parent.name] * len(sources)
        if plan.prefetch is not None:
            error = await self._prefetch([plan], sources)
            if error is not None:
                return [Failed(error)] * len(sources)
        kwargs = self._kwargs(plan)
        if type(kwargs) is Failed:
            return [kwargs] * len(sources)
        assert isinstance(kwargs, dict)
        resolver = plan.resolver
        assert resolver is not None
        if not plan.is_async:
            values: list[Any] = []
            for source in sources:
                try:
                    values.append(
                        resolver(source, **kwargs) if plan.takes_self else resolver(**kwargs)
                    )
                except Exception as error:
                    values.append(Failed(error))
            # A synchronous resolver may answer later for some objects (reference data this
            # request has not made yet, schema/reference.py): awaited as graphql-core would.
            is_awaitable = self.executor.is_awaitable
            later = [i for i, value in enumerate(values) if is_awaitable(value)]
            if later:
                await _finish_all(values, [(i, _awaited(values[i])) for i in later])
            return values
        return await _step_all(resolver, sources, kwargs, plan.takes_self)

    def _leaves(
        self, plan: FieldPlan, out: Leaf, values: list[Any], positions: Positions
    ) -> list[Any]:
        same = out.same
        members, names = out.members, out.names
        completed: list[Any] = []
        append = completed.append
        for index, value in enumerate(values):
            kind = type(value)
            if kind is same and (same is not int or _INT_MIN <= value <= _INT_MAX):
                append(value)
            elif kind is members and value in names:
                append(names[value])
            elif value is None:
                append(self._null(plan, out, positions[index]))
            elif kind is Failed:
                append(self._failed(plan, out, value.error, positions[index]))
            else:
                try:
                    coerced = out.type.coerce_output_value(value)
                    if coerced is None:
                        raise TypeError(
                            f"Expected `{inspect(out.type)}.coerce_output_value("
                            f"{inspect(value)})` to return non-nullable value, returned:"
                            f" {inspect(coerced)}"
                        )
                    append(coerced)
                except Exception as error:
                    append(self._failed(plan, out, error, positions[index]))
        return completed

    async def _complete(
        self, plan: FieldPlan, out: Out, values: list[Any], positions: Positions
    ) -> list[Any]:
        """The values of one field (or one list's items) completed for output: each a value,
        None, or a Bubble where a non-null position failed."""
        if type(out) is Leaf:
            return self._leaves(plan, out, values, positions)
        completed: list[Any] = [None] * len(values)
        live: list[int] = []
        for index, value in enumerate(values):
            if value is None:
                completed[index] = self._null(plan, out, positions[index])
            elif type(value) is Failed:
                completed[index] = self._failed(plan, out, value.error, positions[index])
            else:
                live.append(index)
        if not live:
            return completed
        if type(out) is ListOf:
            await self._lists(plan, out, values, positions, live, completed)
        elif type(out) is Obj:
            await self._typed(plan, out, [(i, values[i]) for i in live], positions, completed)
        else:
            assert type(out) is Abstract
            groups: dict[str, list[tuple[int, Any]]] = {}
            for index in live:
                try:
                    name = self._runtime_type(plan, out, values[index], positions[index])
                except Exception as error:
                    completed[index] = self._failed(plan, out, error, positions[index])
                    continue
                groups.setdefault(name, []).append((index, values[index]))
            for name, members in groups.items():
                await self._typed(plan, out.objects[name], members, positions, completed, out)
        return completed

    async def _typed(
        self,
        plan: FieldPlan,
        obj: Obj,
        members: list[tuple[int, Any]],
        positions: Positions,
        completed: list[Any],
        position_type: Obj | Abstract | None = None,
    ) -> None:
        """Complete objects of one object type into `completed` at their indices."""
        holder = position_type or obj
        is_type_of = obj.type.is_type_of
        checked: type | None = None
        sources: list[Any] = []
        indices: list[int] = []
        for index, value in members:
            if is_type_of is not None and type(value) is not checked:
                info = self.executor.build_resolve_info(
                    plan.definition, plan.nodes, plan.parent, positions[index]
                )
                if not is_type_of(value, info):
                    error = GraphQLError(
                        f"Expected value of type '{obj.type.name}' but got: {inspect(value)}.",
                        plan.nodes,
                    )
                    completed[index] = self._failed(plan, holder, error, positions[index])
                    continue
                checked = type(value)
            sources.append(value)
            indices.append(index)
        if not sources:
            return
        children = await self._objects(obj, sources, _Picked(positions, indices))
        for index, child in zip(indices, children, strict=True):
            completed[index] = (
                self._settle(holder, child, positions[index]) if type(child) is Bubble else child
            )

    async def _lists(
        self,
        plan: FieldPlan,
        out: ListOf,
        values: list[Any],
        positions: Positions,
        live: list[int],
        completed: list[Any],
    ) -> None:
        items: list[Any] = []
        owners: list[int] = []
        offsets: list[int] = []
        spans: list[tuple[int, int, int]] = []
        for index in live:
            value = values[index]
            if not is_iterable(value):
                error = GraphQLError(
                    "Expected Iterable, but did not find one for field"
                    f" '{plan.parent.name}.{plan.name}'."
                )
                completed[index] = self._failed(plan, out, error, positions[index])
                continue
            start = len(items)
            items.extend(value)
            owners.extend([index] * (len(items) - start))
            offsets.extend(range(len(items) - start))
            spans.append((index, start, len(items)))
        done = await self._complete(plan, out.item, items, _Items(positions, owners, offsets))
        for index, start, end in spans:
            chunk = done[start:end]
            bubble = next((c for c in chunk if type(c) is Bubble), None)
            completed[index] = (
                chunk if bubble is None else self._settle(out, bubble, positions[index])
            )

    def _runtime_type(self, plan: FieldPlan, out: Abstract, value: Any, position: Path) -> str:
        executor = self.executor
        info = executor.build_resolve_info(plan.definition, plan.nodes, plan.parent, position)
        resolve_type = out.type.resolve_type or executor.type_resolver
        name = resolve_type(value, info, out.type)
        if executor.is_awaitable(name):
            raise GraphQLError("asynchronous type resolution is left to the generic executor")
        runtime = executor.ensure_valid_runtime_type(name, out.type, plan.details, info, value)
        return runtime.name

    def _null(self, plan: FieldPlan, out: Out, position: Path) -> Bubble | None:
        if not out.nonnull:
            return None
        error = TypeError(
            f"Cannot return null for non-nullable field {plan.parent.name}.{plan.name}."
        )
        return Bubble(located_error(error, plan.nodes, position.as_list()))

    def _failed(self, plan: FieldPlan, out: Out, error: Exception, position: Path) -> Bubble | None:
        located = located_error(error, plan.nodes, position.as_list())
        if out.nonnull:
            return Bubble(located)
        self.errors.add(located, position)
        return None

    def _settle(self, out: Out, bubble: Bubble, position: Path) -> Bubble | None:
        """A failure from below: passed on where `out` is non-null, else recorded here."""
        if out.nonnull:
            return bubble
        self.errors.add(bubble.error, position)
        return None


def _reached(sources: list[Any], hoisted: Hoisted) -> list[Any]:
    """The objects of class `hoisted.kind` that its path reaches from `sources` (each list's
    items); a value the path cannot read, or of another class, is left out: the builder does
    not build it inside, and the general path fetches for it on its own level."""
    level = sources
    for plan in hoisted.path:
        get = plan.get
        assert get is not None  # a hoisted path reads attributes only
        many = type(plan.out) is ListOf
        found: list[Any] = []
        for source in level:
            try:
                value = get(source)
            except Exception:
                continue
            if many:
                if type(value) is list:
                    found.extend(item for item in value if item is not None)
            elif value is not None:
                found.append(value)
        level = found
    kind = hoisted.kind
    return [value for value in level if type(value) is kind]


def _attribute(get: Any, source: Any) -> Any:
    try:
        return get(source)
    except Exception as error:
        return Failed(error)


# Coroutines stepped until they first waited: each with its index and what it waits on.
_Waiting = list[tuple[int, Coroutine[Any, Any, Any], Any]]
# Fields whose resolvers were started together (`PlanRun._start_together`), by plan id: their
# values so far, and the coroutines still waiting.
_Started = dict[int, tuple[list[Any], _Waiting]]


async def _step_all(
    resolver: Any, sources: list[Any], kwargs: dict[str, Any], takes_self: bool
) -> list[Any]:
    """Run an async resolver on every source: each is stepped until it first waits; those
    waiting are then finished in turn (a loader they wait on dispatches all their keys at
    once). No task is made for any of them, and one source's is simply awaited (nothing to wait
    together with)."""
    if len(sources) == 1:
        try:
            return [await (resolver(sources[0], **kwargs) if takes_self else resolver(**kwargs))]
        except Exception as error:
            return [Failed(error)]
    values, waiting = _step_each(resolver, sources, kwargs, takes_self)
    await _finish_waiting(values, waiting)
    return values


def _at_once(out: Out, value: Any, info: CompiledInfo) -> dict[str, Any] | None:
    """A root field's object as its builder writes it at once, when the builder builds all of it
    and the value is of the class it builds (`Builder.whole`): what `_complete` would make of it,
    without a level's lists, paths and type check. None otherwise, and where the builder leaves
    the object to the general path (`_complete` then completes it, building it again)."""
    if type(out) is not Obj:
        return None
    builder = out.builder
    if builder is None or builder.whole is None or type(value) is not builder.whole:
        return None
    return builder.build([value], info)[0]


def _step_each(
    resolver: Any, sources: list[Any], kwargs: dict[str, Any], takes_self: bool
) -> tuple[list[Any], _Waiting]:
    """An async resolver stepped on every source until it first waits: the values of those
    that ended, and those still waiting (with what each waits on)."""
    values: list[Any] = [None] * len(sources)
    waiting: _Waiting = []
    for index, source in enumerate(sources):
        # `_step` inlined: most of these end at once (a loader's value already there).
        try:
            coroutine = resolver(source, **kwargs) if takes_self else resolver(**kwargs)
            waits_on = coroutine.send(None)
        except StopIteration as stop:
            values[index] = stop.value
            continue
        except Exception as error:
            values[index] = Failed(error)
            continue
        if getattr(waits_on, "_asyncio_future_blocking", False):
            waits_on._asyncio_future_blocking = False  # as `_step` says why
        waiting.append((index, coroutine, waits_on))
    return values, waiting


async def _finish_all(
    values: list[Any], coroutines: list[tuple[int, Coroutine[Any, Any, Any]]]
) -> None:
    """Each coroutine's outcome (its result, or Failed) into `values` at its index: all stepped
    until they first wait, then finished in turn, as `_step_all` does."""
    waiting: _Waiting = []
    for index, coroutine in coroutines:
        ended, outcome = _step(coroutine)
        if ended:
            values[index] = outcome
        else:
            waiting.append((index, coroutine, outcome))
    await _finish_waiting(values, waiting)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def _finish_waiting(values: list[Any], waiting: _Waiting) -> None:
    """Coroutines stepped once, finished in turn (a loader they wait on dispatches all their
    keys at once); their outcomes into `values` at their indices."""
    finished = 0
    try:
        for index, coroutine, waits_on in waiting:
            values[index] = await _finish(coroutine, waits_on)
            finished += 1
    finally:
        for _, coroutine, _ in waiting[finished:]:  # only when cancelled midway
            coroutine.close()


def _step(coroutine: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """One step of a coroutine, taken as a task takes it: (True, its result, or Failed) when
    it ended, else (False, the future it waits on, or None for a bare yield)."""
    try:
        waits_on = coroutine.send(None)
    except StopIteration as stop:
        return True, stop.value
    except Exception as error:
        return True, Failed(error)
    if getattr(waits_on, "_asyncio_future_blocking", False):
        # As a task does with the future it is handed: otherwise another coroutine awaiting
        # the same future (a loader's cached key) would be refused ("await wasn't used").
        waits_on._asyncio_future_blocking = False
    return False, waits_on


async def _finish(coroutine: Coroutine[Any, Any, Any], waits_on: Any) -> Any:
    """Drive a coroutine that waits on `waits_on` to its end; its result, or Failed."""
    try:
        while True:
            if waits_on is None:
                await asyncio.sleep(0)
            elif asyncio.isfuture(waits_on):
                try:
                    await waits_on
                except Exception:  # the coroutine meets the outcome when resumed
                    pass
            else:
                coroutine.close()
                return Failed(RuntimeError(f"a resolver waited on {waits_on!r}, not a future"))
            ended, outcome = _step(coroutine)
            if ended:
                return outcome
            waits_on = outcome
    except BaseException:
        coroutine.close()
        raise
