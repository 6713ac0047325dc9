"""``RedisSessionStore``: sessions shared by every worker and machine through Redis."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from prow._redis import DEFAULT_TIMEOUT, LoopClients, outage_errors
from prow.sessions._store import SessionStore, SessionStoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from prow._app import App

__all__ = ["RedisSessionStore"]

T = TypeVar("T")

#: After an outage, requests skip Redis for this long (seconds) instead of each one
#: waiting for its own timeout.
_BACKOFF = 1.0


class RedisSessionStore(SessionStore):
    """Sessions in Redis, one key per session (``prefix`` + id) expiring with the session.

    ``RedisSessionStore("redis://localhost:6379/0")`` makes its own clients, one per event loop
    that serves the app, and closes each when its loop shuts the app down;
    ``RedisSessionStore(client)`` uses a ``redis.asyncio.Redis`` you own (and close).

    ``timeout`` bounds connecting to Redis and each command (seconds; it becomes the
    clients' ``socket_connect_timeout`` and ``socket_timeout``; ``None``: no limit).
    When Redis is down or frozen, a request that carries a session cookie (or saves a
    session) is answered 503 with ``Retry-After``, and for a second after a failure the
    store does not even try.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "prow:session:",
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.prefix = prefix
        self._clients = LoopClients(
            url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._errors = outage_errors()
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"RedisSessionStore({self._clients!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Redis:
        """The Redis client of the running event loop."""
        return self._clients.get()

    def setup_app(self, app: App) -> None:
        if self._clients.owned:
            app.on_shutdown(self.aclose)

    async def aclose(self) -> None:
        """Close the client this store made for the running loop (not one passed in)."""
        await self._clients.aclose()

    async def load(self, session_id: str) -> str | None:
        value: Any = await self._call(lambda client: client.get(self.prefix + session_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        # Redis expires the key itself: no sweeping, and a stolen old id dies on time.
        key = self.prefix + session_id
        await self._call(lambda client: client.set(key, payload, ex=max_age))

    async def delete(self, session_id: str) -> None:
        await self._call(lambda client: client.delete(self.prefix + session_id))

    async def _call(self, command: Callable[[Redis], Awaitable[T]]) -> T:
        if time.monotonic() < self._down_until:
            raise SessionStoreUnavailable(f"{self!r} failed less than {_BACKOFF}s ago")
        try:
            return await command(self._clients.get())
        except self._errors as exc:
            self._down_until = time.monotonic() + _BACKOFF
            raise SessionStoreUnavailable(f"{self!r} is unreachable: {exc}") from exc
