"""Strawberry's extension hooks, run without remaking their context managers per operation.

For every stage of every operation (parsing, validation, execution, the operation around
them) Strawberry's runner asks each extension whether it has the stage's hook and wraps it
anew in `contextlib.contextmanager` (a `functools.wraps` each time) inside an `ExitStack`:
about half of what `Schema.execute` costs for a small query (docs/adr/0036). This runner asks
once per list of extension classes, and steps a generator hook itself: entered in the
extensions' order, left in reverse, an error thrown into each as `contextlib` throws it. A
stage where a hook is of another kind (an async generator, a plain function) goes to
Strawberry's own context manager, unchanged. The same goes for the hook around each result of
a stream (a subscription's events), which is given the result; and the extensions' results
are asked only of the extensions that give any.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    StreamResultContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe

_Hook = Callable[..., Generator[None, None, None]]
# A stage's generator hooks, as (extension's index, hook), or None: the stage is Strawberry's.
_StagePlan = list[tuple[int, _Hook]] | None
_STAGES = (
    OperationContextManager,
    ValidationContextManager,
    ParsingContextManager,
    ExecutingContextManager,
    StreamResultContextManager,
)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a list of extension classes does: each stage's hooks (by the stage's hook name),
    and which of them give results of their own (`get_results`), by index."""

    stages: dict[str, _StagePlan]
    giving_results: tuple[int, ...]


_plans: dict[tuple[type, ...], _Plan] = {}
_MAX_PLANS = 64  # one list of extensions per schema; tests make more


def _stage_plan(classes: tuple[type, ...], name: str) -> _StagePlan:
    """Which of these extension classes have the hook `name`; None when one of them is not a
    generator function."""
    hooks: list[tuple[int, _Hook]] = []
    for index, cls in enumerate(classes):
        hook = getattr(cls, name)
        if hook is getattr(SchemaExtension, name):
            continue
        if not inspect.isgeneratorfunction(hook):
            return None
        hooks.append((index, hook))
    return hooks


def _plan_of(classes: tuple[type[SchemaExtension], ...]) -> _Plan:
    plan = _plans.get(classes)
    if plan is None:
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        plan = _plans[classes] = _Plan(
            {s.HOOK_NAME: _stage_plan(classes, s.HOOK_NAME) for s in _STAGES},
            tuple(
                index
                for index, cls in enumerate(classes)
                if cls.get_results is not SchemaExtension.get_results
            ),
        )
    return plan


class LeanExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner with the stages above made by `_Stage` when every hook of the stage
    is a generator function (worked out once per list of extension classes)."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self._plan = _plan_of(tuple(map(type, self.extensions)))

    def operation(self) -> Any:
        return self._stage(OperationContextManager)

    def validation(self) -> Any:
        return self._stage(ValidationContextManager)

    def parsing(self) -> Any:
        return self._stage(ParsingContextManager)

    def executing(self) -> Any:
        return self._stage(ExecutingContextManager)

    def on_stream_result(self, result: Any) -> Any:
        return self._stage(StreamResultContextManager, result)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        """As Strawberry's: each extension's results in order, then the context's; asked only
        of the extensions whose class gives any (a stream asks for every event)."""
        data: dict[str, Any] = {}
        extensions = self.extensions
        for index in self._plan.giving_results:
            data.update(await await_maybe(extensions[index].get_results()))
        data.update(ctx.extensions_results)
        return data

    def _stage(self, strawberrys: type[ExtensionContextManagerBase], *arguments: Any) -> Any:
        hooks = self._plan.stages[strawberrys.HOOK_NAME]
        if hooks is None:
            return strawberrys(self.extensions, *arguments)  # type: ignore[call-arg]
        extensions = self.extensions
        return _Stage([(hook, extensions[index]) for index, hook in hooks], arguments)


class _Stage:
    """One stage's generator hooks as one context manager, sync or async alike; each hook is
    given `arguments` after its extension (a stream's result)."""

    __slots__ = ("arguments", "hooks", "running")

    def __init__(
        self, hooks: list[tuple[_Hook, SchemaExtension]], arguments: tuple[Any, ...] = ()
    ) -> None:
        self.hooks = hooks
        self.arguments = arguments
        self.running: list[Generator[None, None, None]] = []

    def __enter__(self) -> None:
        for hook, extension in self.hooks:
            generator = hook(extension, *self.arguments)
            try:
                next(generator)
            except StopIteration:
                self._abandon()
                raise RuntimeError("generator didn't yield") from None
            except BaseException:
                self._abandon()
                raise
            self.running.append(generator)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pending = error
        running, self.running = self.running, []
        for generator in reversed(running):
            pending = _leave(generator, pending)
        # A hook that swallowed the error hides it from the hooks outside it only: the
        # operation still sees it, as with Strawberry's (its exit stack's answer is dropped).
        if pending is not None and pending is not error:
            raise pending

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, traceback)

    def _abandon(self) -> None:
        """Close the hooks entered before one failed to enter (Strawberry leaves them to the
        collector, which closes them the same way)."""
        running, self.running = self.running, []
        for generator in reversed(running):
            generator.close()


def _leave(generator: Generator[None, None, None], error: BaseException | None) -> Any:
    """Resume a hook after its yield, with `error` thrown in when there is one, as
    `contextlib.contextmanager` does: None when it ended (suppressing `error`, if any), else
    the error to go on with (`error` re-raised, or one it raised)."""
    try:
        if error is None:
            next(generator)
        else:
            generator.throw(error)
    except StopIteration:
        return None
    except BaseException as raised:
        return raised
    generator.close()
    return RuntimeError(
        "generator didn't stop" if error is None else "generator didn't stop after throw()"
    )
