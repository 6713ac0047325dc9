"""Where a cache keeps its bytes: this process's memory, or Redis shared by every worker.

A backend stores opaque bytes under keys the :class:`~prow.cache.Cache` has already
namespaced; it knows nothing of JSON, responses or policies. Besides ``get``/``set``/
``delete``/``incr`` it keeps tag sets (a tag names every key stored with it, so one call
drops them all) and short locks (one worker recomputes a missing entry while the others
wait for it: stampede protection).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from prow._redis import LoopClients, redis_asyncio

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["CacheBackend", "MemoryBackend", "RedisBackend"]


@runtime_checkable
class CacheBackend(Protocol):
    """What a cache backend does. Keys arrive namespaced; ``ttl`` is in seconds."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(
        self, key: str, value: bytes, ttl: float | None, tags: Sequence[str] = ()
    ) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def incr(self, key: str, delta: int, ttl: float | None) -> int: ...

    async def invalidate_tags(self, tags: Sequence[str]) -> int:
        """Delete every key stored with any of ``tags``; returns how many."""
        ...

    async def acquire(self, key: str, token: str, ttl: float) -> bool:
        """Take the lock ``key`` for ``ttl`` seconds unless someone holds it."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Give the lock back, only if ``token`` still holds it."""
        ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryBackend:
    """Entries in this process's memory: the default, right for one worker.

    Several workers each keep their own copy (an invalidation reaches only the worker that
    made it): use :class:`RedisBackend` for those. At most ``max_entries`` are kept; past
    that the oldest are dropped first.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._tags: dict[str, set[str]] = {}
        self._locks: dict[str, tuple[float, str]] = {}
        # An app may be served from several loops in threads (test clients): one lock
        # keeps a read-modify-write (incr, acquire) whole.
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBackend(max_entries={self.max_entries})"

    def _live(self, key: str, now: float) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] and entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    async def get(self, key: str) -> bytes | None:
        with self._mutex:
            return self._live(key, time.monotonic())

    async def set(
        self, key: str, value: bytes, ttl: float | None, tags: Sequence[str] = ()
    ) -> None:
        with self._mutex:
            self._store(key, value, ttl)
            for tag in tags:
                self._tags.setdefault(tag, set()).add(key)

    def _store(self, key: str, value: bytes, ttl: float | None) -> None:
        expires = time.monotonic() + ttl if ttl else 0.0
        self._entries.pop(key, None)  # re-inserted last: the newest
        self._entries[key] = (expires, value)
        if len(self._entries) > self.max_entries:
            self._evict()

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (expires, _) in self._entries.items() if expires and expires <= now]:
            del self._entries[key]
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]

    async def delete(self, *keys: str) -> int:
        with self._mutex:
            return sum(self._entries.pop(key, None) is not None for key in keys)

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        with self._mutex:
            now = time.monotonic()
            current = self._live(key, now)
            value = (int(current) if current is not None else 0) + delta
            if current is None:
                self._store(key, str(value).encode(), ttl)
            else:
                self._entries[key] = (self._entries[key][0], str(value).encode())
            return value

    async def invalidate_tags(self, tags: Sequence[str]) -> int:
        with self._mutex:
            dropped = 0
            for tag in tags:
                for key in self._tags.pop(tag, ()):
                    dropped += self._entries.pop(key, None) is not None
            return dropped

    async def acquire(self, key: str, token: str, ttl: float) -> bool:
        with self._mutex:
            now = time.monotonic()
            held = self._locks.get(key)
            if held is not None and held[0] > now:
                return False
            self._locks[key] = (now + ttl, token)
            return True

    async def release(self, key: str, token: str) -> None:
        with self._mutex:
            held = self._locks.get(key)
            if held is not None and held[1] == token:
                del self._locks[key]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# SET the value, then add the key to each tag's set and let the set live at least as long as
# the entry (a set that outlives its keys only costs a little memory until it expires).
_SET_LUA = """
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  local left = redis.call('PTTL', KEYS[i])
  if ttl <= 0 then
    redis.call('PERSIST', KEYS[i])
  elseif left >= 0 and left < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  elseif left == -2 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
"""
# Drop every key named by the tag sets, and the sets.
_INVALIDATE_LUA = """
local dropped = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, key in ipairs(members) do
    dropped = dropped + redis.call('DEL', key)
  end
  redis.call('DEL', KEYS[i])
end
return dropped
"""
# INCRBY, and on the first increment give the counter its lifetime.
_INCR_LUA = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 and value == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return value
"""
# Release a lock only while it is still ours (it may have expired and been taken by another).
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Script:
    """A Lua script sent by digest (EVALSHA), and in full once when the server lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: Redis, keys: Sequence[str], *args: Any) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


_SET = _Script(_SET_LUA)
_INVALIDATE = _Script(_INVALIDATE_LUA)
_INCR = _Script(_INCR_LUA)
_RELEASE = _Script(_RELEASE_LUA)


def _ms(ttl: float | None) -> int:
    return max(1, round(ttl * 1000)) if ttl else 0


class RedisBackend:
    """Entries in Redis (``redis.asyncio``), shared by every worker and machine.

    ``url_or_client`` is a URL (``redis://host:6379/0``: the backend makes one client per
    event loop and closes it when the app stops) or a ``redis.asyncio.Redis`` you made and
    close yourself. ``timeout`` bounds connecting and each command, in seconds: a Redis that
    does not answer costs a request at most that long (see ``Cache(on_error=...)``).
    """

    def __init__(self, url_or_client: str | Redis, *, timeout: float = 0.5) -> None:
        redis_asyncio()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.timeout = timeout
        # No retries: a retry on an unreachable server doubles the time a request waits,
        # and the cache's answer to an outage is to go on without it.
        self._clients = LoopClients(
            url_or_client,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def __repr__(self) -> str:
        return f"RedisBackend({self._clients!r})"

    @property
    def client(self) -> Redis:
        """The running event loop's Redis client."""
        return self._clients.get()

    async def get(self, key: str) -> bytes | None:
        value = await self._clients.get().get(key)
        return value if value is None or isinstance(value, bytes) else value.encode()

    async def set(
        self, key: str, value: bytes, ttl: float | None, tags: Sequence[str] = ()
    ) -> None:
        client = self._clients.get()
        if not tags:
            await client.set(key, value, px=_ms(ttl) or None)
            return
        await _SET(client, [key, *tags], value, _ms(ttl))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self._clients.get().delete(*keys))

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        return int(await _INCR(self._clients.get(), [key], delta, _ms(ttl)))

    async def invalidate_tags(self, tags: Sequence[str]) -> int:
        if not tags:
            return 0
        return int(await _INVALIDATE(self._clients.get(), list(tags)))

    async def acquire(self, key: str, token: str, ttl: float) -> bool:
        return bool(await self._clients.get().set(key, token, nx=True, px=_ms(ttl)))

    async def release(self, key: str, token: str) -> None:
        await _RELEASE(self._clients.get(), [key], token)

    async def ping(self) -> None:
        await self._clients.get().ping()

    async def aclose(self) -> None:
        await self._clients.aclose()
