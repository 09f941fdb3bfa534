"""Idempotency keys in GraphQL: every creating mutation makes its change through
domain.services.idempotency under the request's Idempotency-Key (docs/adr/0025)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from strawberry.types.nodes import SelectedField

from domain.services import idempotency
from domain.services.idempotency import Claim, Replay
from schema.common import Ctx

T = TypeVar("T")


def claim(info: Ctx) -> Claim | None:
    """The claim of the mutation being resolved: the request's key, and a keyed hash of the
    mutation's name and arguments (as sent, variables put in); None without a key."""
    context = info.context
    key = context.idempotency_key_for(str(info.path.key))
    if key is None:
        return None
    (selected,) = info.selected_fields
    assert isinstance(selected, SelectedField)  # the field being resolved
    return Claim(
        scope=context.actor.user_id or 0,
        key=key,
        operation=info.field_name,
        fingerprint=idempotency.fingerprint(
            context.settings.secret_key, info.field_name, selected.arguments
        ),
    )


async def idempotent(
    info: Ctx, change: Callable[[], Awaitable[T]], outcome_of: Callable[[T], dict[str, int]]
) -> T | Replay:
    """Make the change once per key: its result, or a Replay of the first one's outcome."""
    context = info.context
    return await idempotency.once(
        claim(info), context.now, context.settings.idempotency_key_ttl_seconds, change, outcome_of
    )
