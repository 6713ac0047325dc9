"""What a rate-limit store must do, and which store an app's limits use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from prow.ratelimit._rate import Rate, RateLimitResult

if TYPE_CHECKING:
    from prow._app import App

__all__ = [
    "STATE_NAME",
    "RateLimitStore",
    "RateLimitStoreError",
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


def use_rate_limit_store(app: App, store: RateLimitStore) -> None:
    """Make ``store`` the default of every ``rate_limit`` of ``app`` without its own ``store=``.

    Same as ``app.state.rate_limit_store = store``; a store that owns a connection
    (``RedisStore`` built from a URL) is also closed when the app shuts down.
    """
    if not isinstance(store, RateLimitStore):
        from prow._exceptions import ConfigurationError

        raise ConfigurationError(
            "prow.E142",
            f"{store!r} is not a rate-limit store; pass MemoryStore(), RedisStore(url) or an "
            "object with an async hit(key, rate) method.",
        )
    setattr(app.state, STATE_NAME, store)
    close = getattr(store, "aclose", None)
    if close is not None:
        app.on_shutdown(close)


def store_for(app: Any) -> RateLimitStore:
    """The app's default store, creating an in-process one on first use.

    Kept on the app (not in a module global) so two apps in one process never share
    counters.
    """
    state = app.state
    if STATE_NAME in state:
        store: RateLimitStore = getattr(state, STATE_NAME)
        return store
    from prow.ratelimit._memory import MemoryStore

    store = MemoryStore()
    setattr(state, STATE_NAME, store)
    return store
