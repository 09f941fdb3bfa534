"""The lean runner of extension hooks (schema/hooks.py) does what Strawberry's own does: the
same hooks entered in the same order, left in reverse, errors thrown into them, suppressed,
replaced or raised alike. Each case runs through both and compares what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.hooks import LeanExtensionsRunner, _Stage


class Boom(Exception):
    pass


class Other(Exception):
    pass


def _extension(name: str, log: list[str], on_exit: str = "pass") -> SchemaExtension:
    """An extension whose execution hook logs around its yield; after it, with an error thrown
    in, it lets it pass, swallows it, raises another, or raises on the way out anyway."""

    class Logged(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            log.append(f"{name} enter")
            try:
                yield
            except Boom:
                log.append(f"{name} saw Boom")
                if on_exit == "swallow":
                    return
                if on_exit == "replace":
                    raise Other(name) from None
                raise
            if on_exit == "fail":
                raise Other(f"{name} on leaving")
            log.append(f"{name} leave")

    return Logged()


class RefusesOnEntry(SchemaExtension):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def on_execute(self) -> Iterator[None]:
        self.log.append("refuse")
        raise Other("refused")
        yield  # pragma: no cover


Body = Callable[[list[str]], None]


def _boom(log: list[str]) -> None:
    log.append("body")
    raise Boom


def _fine(log: list[str]) -> None:
    log.append("body")


def _through(
    runner: type[SchemaExtensionsRunner], make: Callable[[list[str]], list[Any]], body: Body
) -> list[str]:
    log: list[str] = []
    try:
        with runner(execution_context=None, extensions=make(log)).executing():  # type: ignore[arg-type]
            body(log)
    except Exception as error:
        log.append(f"out: {type(error).__name__} {error}")
    else:
        log.append("out: nothing")
    return log


CASES: dict[str, tuple[Callable[[list[str]], list[Any]], Body]] = {
    "in order, out in reverse": (
        lambda log: [_extension("a", log), _extension("b", log)],
        _fine,
    ),
    "an error passes every hook": (
        lambda log: [_extension("a", log), _extension("b", log)],
        _boom,
    ),
    "the inner hook swallows it": (
        lambda log: [_extension("a", log), _extension("b", log, "swallow")],
        _boom,
    ),
    "the outer hook swallows it": (
        lambda log: [_extension("a", log, "swallow"), _extension("b", log)],
        _boom,
    ),
    "the inner hook replaces it": (
        lambda log: [_extension("a", log), _extension("b", log, "replace")],
        _boom,
    ),
    "a hook fails on leaving": (
        lambda log: [_extension("a", log), _extension("b", log, "fail")],
        _fine,
    ),
    "a hook refuses on entering": (
        lambda log: [_extension("a", log), RefusesOnEntry(log), _extension("c", log)],
        _fine,
    ),
    "no hooks": (lambda log: [SchemaExtension()], _fine),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_lean_runner_runs_hooks_as_strawberrys_does(case: str) -> None:
    make, body = CASES[case]
    expected = _through(SchemaExtensionsRunner, make, body)
    assert _through(LeanExtensionsRunner, make, body) == expected
    assert expected[-1] != "out: nothing" or "body" in expected


async def test_the_async_form_runs_them_alike() -> None:
    log: list[str] = []
    extensions = [_extension("a", log), _extension("b", log, "swallow")]
    with pytest.raises(Boom):  # swallowed by b: a does not see it, the operation does
        async with LeanExtensionsRunner(execution_context=None, extensions=extensions).executing():  # type: ignore[arg-type]
            _boom(log)
    assert log == ["a enter", "b enter", "body", "b saw Boom", "a leave"]


def test_a_stage_with_a_hook_of_another_kind_is_strawberrys() -> None:
    """An async generator hook, or a plain function, makes the stage Strawberry's own."""

    class Plain(SchemaExtension):
        def on_execute(self) -> None:  # type: ignore[override]
            pass

    log: list[str] = []
    runner = LeanExtensionsRunner(execution_context=None, extensions=[_extension("a", log)])  # type: ignore[arg-type]
    assert isinstance(runner.executing(), _Stage)
    runner = LeanExtensionsRunner(
        execution_context=None, extensions=[_extension("a", log), Plain()]
    )  # type: ignore[arg-type]
    assert not isinstance(runner.executing(), _Stage)


class Streamed(SchemaExtension):
    """A hook around each result of a stream: it logs the result it is given, marks it, and
    logs an error thrown into it (which it lets pass)."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def on_stream_result(self, result: Any) -> Iterator[None]:  # type: ignore[override]
        self.log.append(f"{self.name} before {result['n']}")
        result["seen"] = [*result.get("seen", ()), self.name]
        try:
            yield
        except Boom:
            self.log.append(f"{self.name} saw Boom")
            raise
        self.log.append(f"{self.name} after {result['n']}")


async def _stream_through(runner: type[SchemaExtensionsRunner], body: Body) -> list[str]:
    log: list[str] = []
    extensions = [Streamed("a", log), SchemaExtension(), Streamed("b", log)]
    made = runner(execution_context=None, extensions=extensions)  # type: ignore[arg-type]
    for n in (1, 2):
        result = {"n": n}
        try:
            async with made.on_stream_result(result):  # type: ignore[arg-type]
                body(log)
        except Exception as error:
            log.append(f"out: {type(error).__name__}")
        log.append(f"result {n} seen by {result['seen']}")
    return log


@pytest.mark.parametrize("body", [_fine, _boom])
async def test_a_streams_results_pass_its_hooks_as_through_strawberrys(body: Body) -> None:
    expected = await _stream_through(SchemaExtensionsRunner, body)
    assert await _stream_through(LeanExtensionsRunner, body) == expected
    assert "result 2 seen by ['a', 'b']" in expected


class Giving(SchemaExtension):
    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results

    def get_results(self) -> dict[str, Any]:
        return self.results


class GivingLater(Giving):
    async def get_results(self) -> dict[str, Any]:  # type: ignore[override]
        return self.results


async def test_the_extensions_results_are_strawberrys() -> None:
    """Each extension's results in order (a later one's key wins), then the context's."""
    extensions = [
        Giving({"a": 1, "b": 1}),
        SchemaExtension(),
        GivingLater({"b": 2}),
        Giving({"c": 3}),
    ]
    context = SimpleNamespace(extensions_results={"c": 4, "d": 4})
    answers = [
        await runner(execution_context=None, extensions=extensions).get_extensions_results(  # type: ignore[arg-type]
            context  # type: ignore[arg-type]
        )
        for runner in (SchemaExtensionsRunner, LeanExtensionsRunner)
    ]
    assert answers[0] == {"a": 1, "b": 2, "c": 4, "d": 4}
    assert list(answers[1].items()) == list(answers[0].items())
