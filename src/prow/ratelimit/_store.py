"""What a rate-limit store must do, and which store an app's limits use."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from prow.extensions import Extension
from prow.ratelimit._rate import Rate, RateLimitResult

if TYPE_CHECKING:
    from prow._app import App

__all__ = [
    "STATE_NAME",
    "RateLimitStore",
    "RateLimitStoreError",
    "RateLimits",
    "store_for",
    "use_rate_limit_store",
]

#: The ``app.state`` attribute holding the app's default store.
STATE_NAME = "rate_limit_store"


@runtime_checkable
class RateLimitStore(Protocol):
    """Keeps each client's rate-limit state; ``hit`` must decide and record atomically.

    Atomic matters: two concurrent requests (or two workers) reading the same state and
    both writing "one more" would let a client exceed its limit.
    """

    async def hit(self, key: str, rate: Rate) -> RateLimitResult:
        """Count one request of ``key`` against ``rate`` and say whether it is allowed."""
        ...


class RateLimitStoreError(Exception):
    """The store could not be reached and is configured to fail closed (answered 503)."""


class RateLimits(Extension):
    """The rate-limit battery: where every ``rate_limit`` without its own ``store=`` counts.

    ::

        app = App(extensions=[RateLimits(RedisRateLimitStore("redis://cache:6379/0"))])

    Without a store, counts stay in this process (``MemoryRateLimitStore``): right for one worker,
    wrong for several (each would allow the full rate). An app that uses ``rate_limit``
    and installs nothing gets ``RateLimits()`` when it is built. A store that owns a
    connection (``RedisRateLimitStore`` built from a URL) is closed when the app shuts down.
    """

    def __init__(self, store: RateLimitStore | None = None) -> None:
        if store is None:
            from prow.ratelimit._memory import MemoryRateLimitStore

            store = MemoryRateLimitStore()
        if not isinstance(store, RateLimitStore):
            from prow._exceptions import ConfigurationError

            raise ConfigurationError(
                "prow.E142",
                f"{store!r} is not a rate-limit store; pass MemoryRateLimitStore(), "
                "RedisRateLimitStore(url) or an object with an async hit(key, rate) method.",
            )
        self.store: RateLimitStore = store

    def __repr__(self) -> str:
        return f"RateLimits({self.store!r})"

    def setup(self, app: App) -> None:
        """Make the store the app's (``app.state.rate_limit_store`` keeps working)."""
        setattr(app.state, STATE_NAME, self.store)

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): a store kept in Redis answers a ping."""
        client = getattr(self.store, "client", None)
        if client is not None and hasattr(client, "ping"):
            await client.ping()

    async def release(self, app: App) -> None:
        """Close the store's connection, when it owns one."""
        close = getattr(self.store, "aclose", None)
        if close is not None:
            await close()


def use_rate_limit_store(app: App, store: RateLimitStore) -> None:
    """Deprecated spelling of ``app.install(RateLimits(store))``."""
    warnings.warn(
        "use_rate_limit_store(app, store) is deprecated; use app.install(RateLimits(store)) "
        "or App(extensions=[RateLimits(store)])",
        DeprecationWarning,
        stacklevel=2,
    )
    app.install(RateLimits(store))


def store_for(app: Any) -> RateLimitStore:
    """The app's default store: its ``RateLimits`` extension's (installed at build)."""
    state = app.state
    if STATE_NAME in state:
        store: RateLimitStore = getattr(state, STATE_NAME)
        return store
    # Only an app that serves no rate-limited route gets here (a custom dependency
    # calling RateLimiter.check itself): keep its counts on the app, never in a global.
    from prow.ratelimit._memory import MemoryRateLimitStore

    store = MemoryRateLimitStore()
    setattr(state, STATE_NAME, store)
    return store
