"""``Cache``: the cache battery, and the DI type handlers use to read and write it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pydantic_core

from prow._exceptions import ConfigurationError, HTTPError
from prow.cache._backends import CacheBackend, MemoryBackend, RedisBackend
from prow.extensions import Extension

if TYPE_CHECKING:
    from prow._app import App
    from prow._routing._route import Route

__all__ = ["Cache", "CacheUnavailable", "OnError"]

logger = logging.getLogger("prow.cache")
T = TypeVar("T")
OnError = Literal["bypass", "fail"]

_MISSING: Any = object()
#: After a failure, calls skip the backend for this long (seconds) instead of each one
#: waiting for a timeout of its own.
_BACKOFF = 1.0
_WARN_EVERY = 60.0


class CacheUnavailable(HTTPError):
    """The cache backend cannot be reached and the cache is set to ``on_error="fail"``.

    An ``HTTPError``: a request that meets it is answered 503 with ``Retry-After``.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            503,
            "The cache is unreachable; try again shortly",
            {"Retry-After": str(retry_after)},
        )


class Cache(Extension):
    """A cache for handlers (``cache: Cache`` as a parameter) and for whole responses.

    ::

        app = App(extensions=[Cache("redis://cache:6379/0")])

        @app.get("/rates")
        async def rates(cache: Cache) -> dict[str, float]:
            return await cache.get_or_set("rates", fetch_rates, ttl=60)

        @app.get("/items", cache=60)      # the whole answer, 60 s, with an ETag
        async def items() -> list[Item]: ...

    ``backend`` is a ``redis://`` URL, a :class:`CacheBackend`, or ``None``: the
    ``PROW_CACHE_URL`` environment variable when set, else this process's memory (right for
    one worker; several workers need Redis to share entries and invalidations).
    Every key is stored under ``namespace + ":"``, so apps can share one Redis.
    ``timeout`` bounds each backend call (seconds). When the backend cannot be reached,
    ``on_error="bypass"`` (the default) goes on without it — reads miss, writes are dropped,
    a warning is logged at most once a minute — and ``"fail"`` answers 503 with
    ``Retry-After: retry_after``. ``lock_ttl`` and ``lock_wait`` shape stampede protection:
    one caller recomputes a missing entry (holding a lock at most ``lock_ttl`` seconds)
    while the others wait for it up to ``lock_wait`` seconds.
    """

    def __init__(
        self,
        backend: str | CacheBackend | None = None,
        *,
        namespace: str = "prow",
        default_ttl: float | None = 300,
        on_error: OnError = "bypass",
        timeout: float = 0.5,
        retry_after: int = 5,
        lock_ttl: float = 30.0,
        lock_wait: float = 10.0,
    ) -> None:
        if on_error not in ("bypass", "fail"):
            raise ConfigurationError(
                "prow.E300", f"Cache(on_error=...) must be 'bypass' or 'fail', not {on_error!r}"
            )
        for name, value in (("timeout", timeout), ("lock_ttl", lock_ttl), ("lock_wait", lock_wait)):
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(
                    "prow.E301", f"Cache({name}=...) must be a positive number, not {value!r}"
                )
        self.backend = _backend(backend, timeout)
        self.prefix = namespace + ":" if namespace else ""
        self.default_ttl = default_ttl
        self.on_error: OnError = on_error
        self.timeout = timeout
        self.retry_after = retry_after
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        # The in-process backend cannot fail: its calls skip the outage guard.
        self._guarded = not isinstance(self.backend, MemoryBackend)
        self._errors = _outage_errors(self.backend)
        self._down_until = 0.0
        self._warned_at = -_WARN_EVERY

    def __repr__(self) -> str:
        return f"Cache({self.backend!r}, namespace={self.prefix[:-1]!r})"

    # -- the extension ---------------------------------------------------------------------

    def setup(self, app: App) -> None:
        self._app = app

    def prepare_route(self, app: App, route: Route) -> None:
        """Wrap routes whose ``cache=`` option asks for response caching (at build time)."""
        policy = route.options.get("cache")
        if policy is None:
            return
        from prow.cache._routes import wrap_route

        wrap_route(self, route, policy)

    async def release(self, app: App) -> None:
        await self.backend.aclose()

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): the backend answers a ping."""
        await self.backend.ping()

    # -- values ------------------------------------------------------------------------------

    def key(self, key: str) -> str:
        """``key`` as stored in the backend (with the namespace)."""
        return self.prefix + key

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` when there is none (or it expired)."""
        raw = await self._call(self.backend.get, None, self.prefix + key)
        return default if raw is None else pydantic_core.from_json(raw)

    async def set(
        self, key: str, value: Any, ttl: float | None = _MISSING, tags: Sequence[str] = ()
    ) -> None:
        """Store ``value`` (anything JSON can hold, models and dates too) for ``ttl`` seconds.

        ``ttl`` defaults to ``default_ttl``; ``None`` keeps it until it is deleted or evicted.
        ``tags`` let :meth:`invalidate` drop it together with others.
        """
        ttl = self.default_ttl if ttl is _MISSING else ttl
        raw = pydantic_core.to_json(value)
        tagged = [self._tag(tag) for tag in tags]
        await self._call(self.backend.set, None, self.prefix + key, raw, ttl, tagged)

    async def delete(self, *keys: str) -> int:
        """Delete ``keys``; returns how many were there."""
        result = await self._call(self.backend.delete, 0, *(self.prefix + k for k in keys))
        return int(result)

    async def incr(self, key: str, delta: int = 1, ttl: float | None = None) -> int:
        """Add ``delta`` to the integer under ``key`` (0 when missing) atomically; the new value.

        ``ttl`` applies when the counter is created (a window that starts with its first hit).
        With the backend down under ``on_error="bypass"`` the answer is ``delta``.
        """
        return int(await self._call(self.backend.incr, delta, self.prefix + key, delta, ttl))

    async def invalidate(self, *tags: str) -> int:
        """Drop every entry stored with any of ``tags``, on every worker sharing the backend."""
        tagged = [self._tag(tag) for tag in tags]
        return int(await self._call(self.backend.invalidate_tags, 0, tagged))

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], T | Awaitable[T]],
        ttl: float | None = _MISSING,
        tags: Sequence[str] = (),
    ) -> T:
        """The value under ``key``; when missing, ``factory()`` computes it once and it is stored.

        Stampede protection: while one caller (in any worker sharing the backend) computes
        the value, the others wait for it instead of computing it too (up to ``lock_wait``
        seconds, then they compute it themselves).
        """
        value = await self.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        lock = self.prefix + "lock:" + key
        token = secrets.token_hex(8)
        held = await self._acquire(lock, token)
        if not held:
            value = await self._wait_for(lambda: self.get(key, _MISSING), lock, token)
            if value is not _MISSING:
                return value  # type: ignore[no-any-return]
            # _MISSING: the lock is ours now, or lock_wait ran out; either way compute here
            # (releasing a lock held by another is a no-op: the token does not match).
        try:
            result = factory()
            if inspect.isawaitable(result):
                result = await result
            await self.set(key, result, ttl, tags)
            return result
        finally:
            await self._call(self.backend.release, None, lock, token)

    def namespace(self, name: str) -> CacheNamespace:
        """A view of this cache whose keys live under ``name:`` (tags stay app-wide)."""
        return CacheNamespace(self, name + ":")

    # -- shared steps ------------------------------------------------------------------------

    def _tag(self, tag: str) -> str:
        return self.prefix + "tag:" + tag

    async def _acquire(self, lock: str, token: str) -> bool:
        # With the backend down, act as if the lock was ours: the value is computed here.
        return bool(await self._call(self.backend.acquire, True, lock, token, self.lock_ttl))

    async def _wait_for(self, read: Callable[[], Awaitable[Any]], lock: str, token: str) -> Any:
        """Wait for another caller's value (``read()`` gives it, or ``_MISSING``).

        ``_MISSING`` back means: compute it here. Either the lock was taken over (its holder
        went away without storing a value) or ``lock_wait`` ran out.
        """
        deadline = time.monotonic() + self.lock_wait
        pause = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
            value = await read()
            if value is not _MISSING:
                return value
            if await self._acquire(lock, token):
                return _MISSING
        return _MISSING

    async def _call(self, method: Callable[..., Awaitable[Any]], fallback: Any, *args: Any) -> Any:
        """Call the backend within ``timeout``; an outage gives ``fallback`` or a 503."""
        if not self._guarded:
            return await method(*args)
        if time.monotonic() < self._down_until:
            return self._unavailable(fallback, None)
        try:
            async with asyncio.timeout(self.timeout):
                return await method(*args)
        except self._errors as exc:
            self._down_until = time.monotonic() + _BACKOFF
            return self._unavailable(fallback, exc)

    def _unavailable(self, fallback: Any, exc: BaseException | None) -> Any:
        now = time.monotonic()
        if exc is not None and now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            policy = "going on without it" if self.on_error == "bypass" else "answering 503"
            logger.warning("cache backend %r is unreachable (%r); %s", self.backend, exc, policy)
        if self.on_error == "fail":
            raise CacheUnavailable(self.retry_after)
        return fallback


class CacheNamespace:
    """The same cache with keys under a further prefix (``cache.namespace("users")``)."""

    def __init__(self, cache: Cache, prefix: str) -> None:
        self.cache = cache
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"CacheNamespace({self.cache!r}, {self.prefix[:-1]!r})"

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.cache.get(self.prefix + key, default)

    async def set(
        self, key: str, value: Any, ttl: float | None = _MISSING, tags: Sequence[str] = ()
    ) -> None:
        await self.cache.set(self.prefix + key, value, ttl, tags)

    async def delete(self, *keys: str) -> int:
        return await self.cache.delete(*(self.prefix + key for key in keys))

    async def incr(self, key: str, delta: int = 1, ttl: float | None = None) -> int:
        return await self.cache.incr(self.prefix + key, delta, ttl)

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], T | Awaitable[T]],
        ttl: float | None = _MISSING,
        tags: Sequence[str] = (),
    ) -> T:
        return await self.cache.get_or_set(self.prefix + key, factory, ttl, tags)

    async def invalidate(self, *tags: str) -> int:
        return await self.cache.invalidate(*tags)

    def namespace(self, name: str) -> CacheNamespace:
        return CacheNamespace(self.cache, self.prefix + name + ":")


def _backend(backend: str | CacheBackend | None, timeout: float) -> CacheBackend:
    if backend is None:
        backend = os.environ.get("PROW_CACHE_URL") or None
    if backend is None or backend in ("memory", "memory://"):
        return MemoryBackend()
    if isinstance(backend, str):
        if backend.startswith(("redis://", "rediss://", "unix://")):
            return RedisBackend(backend, timeout=timeout)
        raise ConfigurationError(
            "prow.E302",
            f"Cache({backend!r}): a cache URL starts with redis://, rediss:// or unix:// "
            "(or is 'memory://')",
        )
    if not isinstance(backend, CacheBackend):
        raise ConfigurationError(
            "prow.E303",
            f"Cache(backend=...) got {backend!r}; pass a redis:// URL, MemoryBackend(), "
            "RedisBackend(...) or an object with the CacheBackend methods",
        )
    return backend


def _outage_errors(backend: CacheBackend) -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
    if isinstance(backend, RedisBackend):
        from prow._redis import outage_errors

        errors += outage_errors()
    return errors
