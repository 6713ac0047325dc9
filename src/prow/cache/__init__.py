"""Caching: a ``Cache`` for handlers, whole-response caching per route, ETags and 304s.

::

    from prow import App
    from prow.cache import Cache, CachePolicy, Invalidates

    app = App(extensions=[Cache("redis://cache:6379/0")])   # or Cache(): this process only

    @app.get("/items", cache=CachePolicy(60, tags=("items",)))
    async def items() -> list[Item]: ...

    @app.post("/items", cache=Invalidates("items"))
    async def add_item(item: Item) -> Item: ...

    @app.get("/rates")
    async def rates(cache: Cache) -> dict[str, float]:
        return await cache.get_or_set("rates", fetch_rates, ttl=300)

See ``docs/cache.md``. redis-py is needed only for a Redis backend (``prow[cache]``).
"""

from __future__ import annotations

from prow.cache._backends import CacheBackend, MemoryBackend, RedisBackend
from prow.cache._cache import Cache, CacheNamespace, CacheUnavailable
from prow.cache._policy import CachePolicy, Invalidates

__all__ = [
    "Cache",
    "CacheBackend",
    "CacheNamespace",
    "CachePolicy",
    "CacheUnavailable",
    "Invalidates",
    "MemoryBackend",
    "RedisBackend",
]
