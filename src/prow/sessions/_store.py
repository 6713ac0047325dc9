"""Server-side session stores: the interface and the in-process ``MemorySessionStore``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["MemorySessionStore", "SessionStore", "SessionStoreUnavailable"]


class SessionStoreUnavailable(Exception):
    """The store cannot be reached (down, frozen, timed out): the request is answered 503.

    A store raises it from :meth:`SessionStore.load`, ``save`` or ``delete`` for an outage,
    never for a bug; ``SessionMiddleware`` answers 503 with ``Retry-After`` instead of 500.
    """


class SessionStore(ABC):
    """Where server-side sessions live; the cookie then holds only a signed random id.

    A store keeps a JSON text per session id for ``max_age`` seconds. Subclass it to keep
    sessions somewhere else: implement :meth:`load`, :meth:`save` and :meth:`delete`, and
    raise :class:`SessionStoreUnavailable` from them when the storage cannot be reached.
    """

    def setup_app(self, app: App) -> None:  # noqa: B027 - an optional hook, empty by default
        """Called once when the app starts, before any request (e.g. to find its database)."""

    @abstractmethod
    async def load(self, session_id: str) -> str | None:
        """The JSON text stored for ``session_id``; None when unknown or expired."""

    @abstractmethod
    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        """Store ``payload`` for ``session_id``, replacing it, expiring in ``max_age`` seconds."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget ``session_id``; no error when it is unknown."""


class MemorySessionStore(SessionStore):
    """Sessions in this process's memory: for development, tests and single-process apps.

    Every worker process has its own sessions and a restart forgets them all; with several
    workers use :class:`RedisSessionStore` or :class:`DatabaseSessionStore`.
    """

    #: Expired sessions are swept out once every this many saves.
    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, str]] = {}
        self._saves = 0

    def __len__(self) -> int:
        return len(self._items)

    async def load(self, session_id: str) -> str | None:
        item = self._items.get(session_id)
        if item is None:
            return None
        expires, payload = item
        if expires <= time.time():
            del self._items[session_id]
            return None
        return payload

    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        self._saves += 1
        if self._saves % self.SWEEP_EVERY == 0:
            self._sweep()
        self._items[session_id] = (time.time() + max_age, payload)

    async def delete(self, session_id: str) -> None:
        self._items.pop(session_id, None)

    def _sweep(self) -> None:
        # Without it, visitors who never come back would grow the dict forever.
        now = time.time()
        expired = [key for key, (expires, _) in self._items.items() if expires <= now]
        for key in expired:
            del self._items[key]
