"""What a field's resolver reads, told to the compiled executor ahead of running it.

A resolver that reads something a loader does not fetch by itself (the people a request's
loaders hold, see schema/loaders.py) names, with `prefetched_by`, a function that fetches it
for many objects at once. The compiled executor calls it once per level before running the
resolver on each object; the generic executor ignores it (its loaders fetch people eagerly).

A resolver whose load can read, in the same statement, what a field of its selection will
read next (an assignment's follow-ups with the assignments) names that field with
`reads_ahead`, and a function that asks its loader to. The compiled executor calls it before
running the resolver when its plan selects that field, and only then: nothing is read that is
not selected. The generic executor ignores it (the field reads for itself, one level down).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
Prefetch = Callable[[Any, Sequence[Any]], Awaitable[None]]

Ahead = Callable[[Any], None]

_ATTRIBUTE = "__lapor_prefetch__"
_AHEAD = "__lapor_ahead__"


def prefetched_by(fetch: Prefetch) -> Callable[[F], F]:
    """Mark a resolver: `fetch(context, objects)` loads what it reads for all `objects`."""

    def mark(resolver: F) -> F:
        setattr(resolver, _ATTRIBUTE, fetch)
        return resolver

    return mark


def prefetch_of(resolver: Callable[..., Any]) -> Prefetch | None:
    """The fetch a resolver was marked with, if any."""
    found: Prefetch | None = getattr(resolver, _ATTRIBUTE, None)
    return found


def reads_ahead(child: str, ask: Ahead) -> Callable[[F], F]:
    """Mark a resolver: `ask(context)` before it runs, when its selection has the field `child`."""

    def mark(resolver: F) -> F:
        setattr(resolver, _AHEAD, (*ahead_of(resolver), (child, ask)))
        return resolver

    return mark


def ahead_of(resolver: Callable[..., Any]) -> tuple[tuple[str, Ahead], ...]:
    """The (field, ask) pairs a resolver was marked with."""
    found: tuple[tuple[str, Ahead], ...] = getattr(resolver, _AHEAD, ())
    return found
