"""Idempotency keys: a change made under a client's key is made once; a retry with the same key
and the same request is answered with what the first one produced and writes nothing; the same
key with another request is refused (docs/adr/0025).

The key is claimed first, in the transaction of the change itself (the change's own
transaction nests in it). Of two requests with one key at once, the second waits on the first's
claim until that commits, then answers with its outcome: one write. A change that is refused or
fails rolls its claim back with it, so its key stays unused and a retry runs afresh.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode
from domain.services.common import require_aware

T = TypeVar("T")

# Where a refusal points: the header the key came in.
KEY_FIELD = "Idempotency-Key"

# Claim the key, or take over one that expired; no row back when a live one holds it (after
# waiting for the transaction that claimed it, if it is still running).
_CLAIM = """
INSERT INTO idempotency_key (scope, key, operation, fingerprint, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (scope, key) DO UPDATE SET
    operation = EXCLUDED.operation, fingerprint = EXCLUDED.fingerprint, outcome = NULL,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE idempotency_key.expires_at <= EXCLUDED.created_at
RETURNING id
"""
_RECORD = "UPDATE idempotency_key SET outcome = $1 WHERE id = $2"
_EARLIER = """
SELECT operation, fingerprint, outcome FROM idempotency_key WHERE scope = $1 AND key = $2
"""
_PURGE = """
DELETE FROM idempotency_key WHERE id IN (
    SELECT id FROM idempotency_key WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)
"""


@dataclass(frozen=True)
class Claim:
    """A client's key for one change, and what that change asks."""

    # Whose key: the signed-in user's id, 0 for signed-out requests.
    scope: int
    key: str
    operation: str
    fingerprint: str


@dataclass(frozen=True)
class Replay:
    """What an earlier change under the same key produced: ids by name."""

    outcome: dict[str, int]


def fingerprint(secret: str, operation: str, arguments: object) -> str:
    """A keyed hash of a change's arguments (they may hold a password: never stored as such)."""
    canonical = orjson.dumps(
        [operation, arguments], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
    )
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


async def once(
    claim: Claim | None,
    now: datetime,
    ttl_seconds: int,
    change: Callable[[], Awaitable[T]],
    outcome_of: Callable[[T], dict[str, int]],
) -> T | Replay:
    """Run `change` once per claim: its result the first time, a Replay of it after; without a
    claim, just run it. IDEMPOTENCY_KEY_REUSED when the key went with another request."""
    if claim is None:
        return await change()
    require_aware(now)
    expires = now + timedelta(seconds=ttl_seconds)
    key = [claim.scope, claim.key]
    earlier: list[dict[str, Any]] = []
    while not earlier:  # again only if the key expired and went between the two statements
        async with in_transaction() as connection:
            claimed = await connection.execute_query_dict(
                _CLAIM, [*key, claim.operation, claim.fingerprint, now, expires]
            )
            if claimed:
                result = await change()
                outcome = orjson.dumps(outcome_of(result)).decode()
                await connection.execute_query(_RECORD, [outcome, claimed[0]["id"]])
                return result
            earlier = await connection.execute_query_dict(_EARLIER, key)
    (row,) = earlier
    if (row["operation"], row["fingerprint"]) != (claim.operation, claim.fingerprint):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key went with another request: choose a new key for a new one",
            [KEY_FIELD],
        )
    return Replay(orjson.loads(row["outcome"]))


async def purge_expired(now: datetime, batch: int = 1000) -> int:
    """Forget every key expired by `now`, `batch` rows per transaction (short locks); how many
    went."""
    require_aware(now)
    total = 0
    while True:
        async with in_transaction() as connection:
            count, _ = await connection.execute_query(_PURGE, [now, batch])
        total += count
        if count < batch:
            return total
