"""A rate-limit store in Redis, shared by every worker and machine of an app."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prow._redis import LoopClients, redis_asyncio
from prow.ratelimit._rate import MICRO, Rate, RateLimitResult, result_at
from prow.ratelimit._store import RateLimitStoreError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimitStore"]

logger = logging.getLogger("prow.ratelimit")

# The GCRA step of prow.ratelimit._rate.gcra, run inside Redis so that reading and
# writing a client's state is one atomic operation even with many workers. ARGV[3] is
# the time in µs, or "" to use the Redis server's clock (one clock for all workers,
# whatever their own clocks say). Returns {allowed, tat after the decision, now}.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
if new_tat - period > now then
  return {0, tat, now}
end
local ttl = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
return {1, new_tat, now}
"""
#: EVALSHA sends this digest instead of the script; the server runs its cached copy.
_GCRA_SHA = hashlib.sha1(_GCRA_LUA.encode(), usedforsecurity=False).hexdigest()

#: After a failure, requests skip Redis for this long (seconds) instead of each one
#: waiting for a connection timeout.
_BACKOFF = 1.0
#: At most one warning per this many seconds while Redis stays unreachable.
_WARN_EVERY = 60.0


class RedisRateLimitStore:
    """Counters in Redis (``redis.asyncio``), so all workers share one limit per client.

    ``url_or_client`` is a URL (``redis://host:6379/0``; the store then makes its own
    clients, one per event loop that serves the app, and ``aclose()`` closes the running
    loop's) or an existing ``redis.asyncio.Redis``, which stays yours to close.
    Keys are ``prefix + limit name + ":" + client key`` and expire on their own once the
    client's limit has refilled.

    When Redis cannot be reached the store **fails open** by default: requests are
    allowed and a warning is logged (at most once a minute), because an outage of the
    counter store should not take the whole API down with it. ``fail_open=False``
    answers 503 instead, for limits that protect against abuse (login attempts) where
    letting requests through unlimited is worse than refusing them.
    ``clock`` (seconds since the epoch) replaces the Redis server's clock, for tests.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "prow:rl:",
        fail_open: bool = True,
        timeout: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        aio = redis_asyncio()
        from redis.exceptions import NoScriptError

        self._clients = LoopClients(
            url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.prefix = prefix
        self.fail_open = fail_open
        self._clock = clock
        self._no_script = NoScriptError
        # Only "cannot reach Redis" is an outage; a script or auth error is a bug to see.
        self._errors: tuple[type[Exception], ...] = (
            OSError,
            aio.ConnectionError,
            aio.TimeoutError,
        )
        self._down_until = 0.0
        self._warned_at = -_WARN_EVERY

    def __repr__(self) -> str:
        return f"RedisRateLimitStore(prefix={self.prefix!r}, fail_open={self.fail_open})"

    async def hit(self, key: str, rate: Rate) -> RateLimitResult:
        """Count one request of ``key`` in one atomic script call."""
        if time.monotonic() < self._down_until:
            return self._unavailable(rate, None)
        now = "" if self._clock is None else str(int(self._clock() * MICRO))
        try:
            allowed, tat, server_now = await self._gcra(
                self.prefix + key, rate.interval_us, rate.period_us, now
            )
        except self._errors as exc:
            self._down_until = time.monotonic() + _BACKOFF
            return self._unavailable(rate, exc)
        return result_at(rate, bool(allowed), int(tat), int(server_now))

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count (e.g. after a successful login)."""
        await self._clients.get().delete(self.prefix + key)

    async def aclose(self) -> None:
        """Close the running loop's client if this store made it (from a URL)."""
        await self._clients.aclose()

    @property
    def client(self) -> Redis:
        """The Redis client of the running event loop."""
        return self._clients.get()

    async def _gcra(self, key: str, *args: int | str) -> Any:
        client = self._clients.get()
        try:
            return await client.evalsha(_GCRA_SHA, 1, key, *args)
        except self._no_script:
            # The server has not cached the script yet (first use, a restart, a flush):
            # EVAL runs it and caches it, so the next EVALSHA, from any client, finds it.
            return await client.eval(_GCRA_LUA, 1, key, *args)

    def _unavailable(self, rate: Rate, exc: BaseException | None) -> RateLimitResult:
        now = time.monotonic()
        if exc is not None and now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            policy = "allowing requests (fail open)" if self.fail_open else "answering 503"
            logger.warning("rate-limit store %r is unreachable (%s); %s", self, exc, policy)
        if not self.fail_open:
            raise RateLimitStoreError("the rate-limit store is unreachable")
        return RateLimitResult(True, rate.limit, rate.limit, 0.0, 0.0)
