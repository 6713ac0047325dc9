"""``RedisStore``: sessions shared by every worker and machine through Redis."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from prow.sessions._store import SessionStore

try:
    import redis.asyncio as aioredis
except ModuleNotFoundError as _missing:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "RedisStore needs redis-py; install it with: pip install 'prow[redis]'",
        name=_missing.name,
    ) from _missing

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["RedisStore"]


class RedisStore(SessionStore):
    """Sessions in Redis, one key per session (``prefix`` + id) expiring with the session.

    ``RedisStore("redis://localhost:6379/0")`` makes and closes its own client;
    ``RedisStore(client)`` uses a ``redis.asyncio.Redis`` you own (and close).
    """

    def __init__(
        self, url_or_client: str | aioredis.Redis, *, prefix: str = "prow:session:"
    ) -> None:
        self.prefix = prefix
        self._url: str | None = None
        self._client: aioredis.Redis | None = None
        if isinstance(url_or_client, str):
            self._url = url_or_client
        else:
            self._client = url_or_client
        # A redis.asyncio connection belongs to the event loop that opened it; an app may
        # be served from more than one loop (test clients do), so each loop gets a client.
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisStore({self._url or self._client!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> aioredis.Redis:
        """The Redis client of the running event loop."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            assert self._url is not None
            client = self._by_loop[loop] = aioredis.from_url(self._url)
        return client

    def setup_app(self, app: App) -> None:
        if self._url is not None:
            app.on_shutdown(self.aclose)

    async def aclose(self) -> None:
        """Close the client this store made for the running loop (not one passed in)."""
        if self._url is None:
            return
        client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def load(self, session_id: str) -> str | None:
        value: Any = await self.client.get(self.prefix + session_id)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        # Redis expires the key itself: no sweeping, and a stolen old id dies on time.
        await self.client.set(self.prefix + session_id, payload, ex=max_age)

    async def delete(self, session_id: str) -> None:
        await self.client.delete(self.prefix + session_id)
