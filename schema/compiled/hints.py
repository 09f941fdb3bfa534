"""What a field's resolver reads from the request's caches, fetched for a whole level first.

A resolver that reads something a loader does not fetch by itself (the people a request's
loaders hold, see schema/loaders.py) names, with `prefetched_by`, a function that fetches it
for many objects at once. The compiled executor calls it once per level before running the
resolver on each object; the generic executor ignores it (its loaders fetch people eagerly).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
Prefetch = Callable[[Any, Sequence[Any]], Awaitable[None]]

_ATTRIBUTE = "__lapor_prefetch__"


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
