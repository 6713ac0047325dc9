"""Rate limiting: ``rate_limit("5/minute")`` as a dependency of a route, a router or the app.

::

    from prow import App
    from prow.ratelimit import rate_limit

    app = App()

    @app.post("/login", dependencies=[rate_limit("5/minute")])
    async def login() -> dict[str, bool]:
        return {"ok": True}

Over the limit the client gets ``429`` (problem+json) with ``Retry-After`` and
``RateLimit-*`` headers. Counts live in the app's store: an in-process
``MemoryRateLimitStore`` unless ``App(extensions=[RateLimits(RedisRateLimitStore(url))])``
shares them between workers. ``RedisRateLimitStore`` needs the ``redis`` extra; ``import
prow`` never imports this package. (The stores' old names, ``MemoryStore`` and
``RedisStore``, still work with a warning: ``prow.sessions`` has stores called the same.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._renamed import renamed_attribute
from prow.ratelimit._limiter import (
    RATE_LIMITED_RESPONSE,
    KeyFunc,
    RateLimiter,
    client_address,
    rate_limit,
)
from prow.ratelimit._memory import MemoryRateLimitStore
from prow.ratelimit._rate import Rate, RateLimitResult, parse_rate
from prow.ratelimit._redis import RedisRateLimitStore
from prow.ratelimit._store import (
    STATE_NAME,
    RateLimits,
    RateLimitStore,
    RateLimitStoreError,
    use_rate_limit_store,
)

if TYPE_CHECKING:  # deprecated names (prow.sessions has stores called the same)
    MemoryStore = MemoryRateLimitStore
    RedisStore = RedisRateLimitStore

_RENAMED = {
    "MemoryStore": "prow.ratelimit.MemoryRateLimitStore",
    "RedisStore": "prow.ratelimit.RedisRateLimitStore",
}


def __getattr__(name: str) -> Any:
    return renamed_attribute(__name__, name, _RENAMED)


__all__ = [
    "RATE_LIMITED_RESPONSE",
    "STATE_NAME",
    "KeyFunc",
    "MemoryRateLimitStore",
    "Rate",
    "RateLimitResult",
    "RateLimitStore",
    "RateLimitStoreError",
    "RateLimiter",
    "RateLimits",
    "RedisRateLimitStore",
    "client_address",
    "parse_rate",
    "rate_limit",
    "use_rate_limit_store",
]
