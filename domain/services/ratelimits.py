"""Rate limits of sign-in, registration and submission, counted in Redis so that every API
process counts the same requests once (docs/adr/0020).

Each limited action has a sliding window per IP address and one per account (the e-mail for
sign-in and registration, the user for submission): a request goes through only when every
window it counts in has room, and is then counted in all of them at once (one Lua script,
atomic in Redis), so a refused request counts nowhere. Failed sign-ins to one account add a
back-off that doubles with each failure past the free ones and ends with a success.

Without Redis (none configured, or down) nothing is limited: the service stays open, and says
so in its log.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from core.settings import Settings
from domain.errors import DomainError, ErrorCode

log = logging.getLogger("lapor.ratelimits")

PREFIX = "lapor:rl:"

# KEYS: the windows' keys. ARGV: now (ms), a member unique to this request, then for each key
# its window (ms) and its limit. Returns 0 when the request was counted in every window, else
# the milliseconds until the fullest window has room (nothing counted).
_WINDOWS = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local span = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local n = redis.call('ZCARD', key)
  if n >= limit then
    -- room comes when the entry that keeps the window full leaves it
    local entry = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(entry[2]) + span - now)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[1 + 2 * i]))
end
return 0
"""


@dataclass(frozen=True)
class Window:
    """At most `limit` requests in any `seconds`."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Window | None:
        """A setting's window ("N/S"); None for "off"."""
        if text == "off":
            return None
        limit, seconds = text.split("/")
        return cls(int(limit), int(seconds))


RedisSource = Callable[[], Awaitable[Redis | None]]


def _account(value: str) -> str:
    """A key part naming an account without writing its e-mail into Redis."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def _refusal(wait_seconds: float, what: str) -> DomainError:
    seconds = max(1, math.ceil(wait_seconds))
    return DomainError(
        ErrorCode.RATE_LIMITED,
        f"too many {what}: try again in {seconds} s",
        retry_after=seconds,
    )


class RateLimits:
    """The rate limits one request counts against: its caller's IP address and the account it
    names, in the windows of `settings` (all off when `settings.rate_limits` is false)."""

    def __init__(self, settings: Settings, redis: RedisSource, ip: str | None) -> None:
        self.settings = settings
        self.redis = redis
        self.ip = ip or "unknown"

    async def sign_in(self, email: str, now: datetime) -> None:
        """Before a sign-in: RATE_LIMITED while the account is backing off after failures or
        either window is full; else counted."""
        client = await self._client()
        if client is None:
            return
        account = _account(email)
        try:
            failures, last = await client.hmget(  # type: ignore[misc]
                f"{PREFIX}fail:{account}", ["count", "at"]
            )
        except Exception as exc:  # Redis went away: stay open, as without it
            log.warning("rate limits unavailable (%s): not limiting", exc)
            return
        wait = self._backoff(int(failures or 0))
        if wait > 0 and last is not None:
            left = float(last) + wait - now.timestamp()
            if left > 0:
                raise _refusal(left, "failed sign-ins")
        await self._count(
            client,
            now,
            "sign-ins",
            (f"sign_in:ip:{self.ip}", self.settings.rate_sign_in_per_ip),
            (f"sign_in:account:{account}", self.settings.rate_sign_in_per_account),
        )

    async def sign_in_failed(self, email: str, now: datetime) -> None:
        """After a failed sign-in: one more failure for the account's back-off."""
        client = await self._client()
        if client is None:
            return
        key = f"{PREFIX}fail:{_account(email)}"
        try:
            pipe = client.pipeline(transaction=True)
            pipe.hincrby(key, "count", 1)
            pipe.hset(key, "at", str(now.timestamp()))
            pipe.expire(key, int(self.settings.sign_in_backoff_max_seconds * 2) + 60)
            await pipe.execute()
        except Exception as exc:
            log.warning("rate limits unavailable (%s): not limiting", exc)

    async def sign_in_succeeded(self, email: str) -> None:
        """After a sign-in: the account's failures are forgotten."""
        client = await self._client()
        if client is None:
            return
        try:
            await client.delete(f"{PREFIX}fail:{_account(email)}")
        except Exception as exc:
            log.warning("rate limits unavailable (%s): not limiting", exc)

    async def register(self, email: str, now: datetime) -> None:
        """Before a registration: RATE_LIMITED when either window is full; else counted."""
        client = await self._client()
        if client is not None:
            await self._count(
                client,
                now,
                "registrations",
                (f"register:ip:{self.ip}", self.settings.rate_register_per_ip),
                (f"register:account:{_account(email)}", self.settings.rate_register_per_account),
            )

    async def submit(self, user_id: int, now: datetime) -> None:
        """Before a report is submitted: RATE_LIMITED when either window is full."""
        client = await self._client()
        if client is not None:
            await self._count(
                client,
                now,
                "reports",
                (f"submit:ip:{self.ip}", self.settings.rate_submit_per_ip),
                (f"submit:account:{user_id}", self.settings.rate_submit_per_account),
            )

    def _backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` failed sign-ins in a row (0 for the free ones)."""
        s = self.settings
        past = failures - s.sign_in_free_failures
        if past <= 0:
            return 0.0
        return min(s.sign_in_backoff_max_seconds, s.sign_in_backoff_seconds * 2 ** (past - 1))

    async def _client(self) -> Redis | None:
        if not self.settings.rate_limits:
            return None
        client = await self.redis()
        if client is None:
            log.warning("rate limits unavailable (no Redis): not limiting")
        return client

    async def _count(
        self, client: Redis, now: datetime, what: str, *windows: tuple[str, str]
    ) -> None:
        """Count one request in every window that is on, or refuse it (counted nowhere)."""
        parsed = [(PREFIX + key, Window.parse(text)) for key, text in windows]
        active = [(key, window) for key, window in parsed if window is not None]
        if not active:
            return
        arguments = [str(int(now.timestamp() * 1000)), uuid.uuid4().hex]
        for _, window in active:
            arguments += [str(window.seconds * 1000), str(window.limit)]
        try:
            wait = await client.eval(  # type: ignore[misc]
                _WINDOWS, len(active), *[key for key, _ in active], *arguments
            )
        except Exception as exc:
            log.warning("rate limits unavailable (%s): not limiting", exc)
            return
        if int(wait) > 0:
            raise _refusal(int(wait) / 1000, what)
