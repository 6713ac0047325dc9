"""``RedisSessionStore``: sessions shared by every worker and machine through Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._redis import LoopClients
from prow.sessions._store import SessionStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from prow._app import App

__all__ = ["RedisSessionStore"]


class RedisSessionStore(SessionStore):
    """Sessions in Redis, one key per session (``prefix`` + id) expiring with the session.

    ``RedisSessionStore("redis://localhost:6379/0")`` makes its own clients, one per event loop
    that serves the app, and closes each when its loop shuts the app down;
    ``RedisSessionStore(client)`` uses a ``redis.asyncio.Redis`` you own (and close).
    """

    def __init__(self, url_or_client: str | Redis, *, prefix: str = "prow:session:") -> None:
        self.prefix = prefix
        self._clients = LoopClients(url_or_client)

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
        value: Any = await self._clients.get().get(self.prefix + session_id)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        # Redis expires the key itself: no sweeping, and a stolen old id dies on time.
        await self._clients.get().set(self.prefix + session_id, payload, ex=max_age)

    async def delete(self, session_id: str) -> None:
        await self._clients.get().delete(self.prefix + session_id)
