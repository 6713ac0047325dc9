"""Rate limiting: ``rate_limit("5/minute")`` as a dependency of a route, a router or the app.

::

    from prow import App
    from prow.ratelimit import rate_limit

    app = App()

    @app.post("/login", dependencies=[rate_limit("5/minute")])
    async def login() -> dict[str, bool]:
        return {"ok": True}

Over the limit the client gets ``429`` (problem+json) with ``Retry-After`` and
``RateLimit-*`` headers. Counts live in the app's store: an in-process ``MemoryStore``
unless ``App(extensions=[RateLimits(RedisStore(url))])`` shares them between workers.
``RedisStore`` needs the ``redis`` extra; ``import prow`` never imports this package.
"""

from __future__ import annotations

from prow.ratelimit._limiter import (
    RATE_LIMITED_RESPONSE,
    KeyFunc,
    RateLimiter,
    client_address,
    rate_limit,
)
from prow.ratelimit._memory import MemoryStore
from prow.ratelimit._rate import Rate, RateLimitResult, parse_rate
from prow.ratelimit._redis import RedisStore
from prow.ratelimit._store import (
    STATE_NAME,
    RateLimits,
    RateLimitStore,
    RateLimitStoreError,
    use_rate_limit_store,
)

__all__ = [
    "RATE_LIMITED_RESPONSE",
    "STATE_NAME",
    "KeyFunc",
    "MemoryStore",
    "Rate",
    "RateLimitResult",
    "RateLimitStore",
    "RateLimitStoreError",
    "RateLimiter",
    "RateLimits",
    "RedisStore",
    "client_address",
    "parse_rate",
    "rate_limit",
    "use_rate_limit_store",
]
